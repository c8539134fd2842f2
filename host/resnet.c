/* ResNet-s (GUIDE section 5): architecture names and the PyTorch state-dict layout of the
 * CIFAR ResNet family, used to check model files before any weight is loaded. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int n;
} k_archs[] = {{"resnet8", 1}, {"resnet14", 2}, {"resnet20", 3}, {"resnet32", 5},
               {"resnet44", 7}, {"resnet56", 9}, {"resnet110", 18}};

eos_status eos_resnet_blocks(const char *arch, int *n) {
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++)
        if (arch && !strcmp(arch, k_archs[i].name)) {
            *n = k_archs[i].n;
            return EOS_OK;
        }
    EOS_FAIL(EOS_ERR_INVALID_ARG, NULL,
             "unknown architecture '%s': expected resnet8, resnet14, resnet20, resnet32, resnet44, resnet56 or resnet110",
             arch ? arch : "");
}

typedef struct {
    eos_param_spec *v;
    size_t n, cap;
    int oom;
} spec_list;

static void add(spec_list *l, const char *name, eos_dtype dtype, int ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
    if (l->oom) return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        eos_param_spec *g = realloc(l->v, cap * sizeof *g);
        if (!g) { l->oom = 1; return; }
        l->v = g;
        l->cap = cap;
    }
    eos_param_spec *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->dtype = dtype;
    s->ndim = ndim;
    int64_t dims[4] = {a, b, c, d};
    for (int i = 0; i < ndim; i++) s->shape[i] = dims[i];
}

static void add_conv(spec_list *l, const char *prefix, int64_t out, int64_t in) {
    char name[EOS_MAX_TENSOR_NAME];
    snprintf(name, sizeof name, "%s.weight", prefix);
    add(l, name, EOS_DTYPE_F32, 4, out, in, 3, 3);
}

static void add_bn(spec_list *l, const char *prefix, int64_t ch) {
    static const char *f32[] = {"weight", "bias", "running_mean", "running_var"};
    char name[EOS_MAX_TENSOR_NAME];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, f32[i]);
        add(l, name, EOS_DTYPE_F32, 1, ch, 0, 0, 0);
    }
    snprintf(name, sizeof name, "%s.num_batches_tracked", prefix);
    add(l, name, EOS_DTYPE_I64, 0, 0, 0, 0, 0);
}

eos_status eos_resnet_param_specs(int n, int in_channels, int classes, eos_param_spec **specs, size_t *count) {
    *specs = NULL;
    *count = 0;
    if (n < 1 || in_channels < 1 || classes < 1)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resnet spec: blocks %d, input channels %d, classes %d must all be >= 1", n,
                 in_channels, classes);
    spec_list l = {0};
    add_conv(&l, "conv1", 16, in_channels);
    add_bn(&l, "bn1", 16);
    static const int64_t width[3] = {16, 32, 64};
    int64_t in = 16;
    for (int s = 0; s < 3; s++) {
        for (int b = 0; b < n; b++) {
            char p[64];
            snprintf(p, sizeof p, "layer%d.%d.conv1", s + 1, b);
            add_conv(&l, p, width[s], in);
            snprintf(p, sizeof p, "layer%d.%d.bn1", s + 1, b);
            add_bn(&l, p, width[s]);
            snprintf(p, sizeof p, "layer%d.%d.conv2", s + 1, b);
            add_conv(&l, p, width[s], width[s]);
            snprintf(p, sizeof p, "layer%d.%d.bn2", s + 1, b);
            add_bn(&l, p, width[s]);
            in = width[s];  /* option-A shortcuts have no parameters */
        }
    }
    add(&l, "linear.weight", EOS_DTYPE_F32, 2, classes, 64, 0, 0);
    add(&l, "linear.bias", EOS_DTYPE_F32, 1, classes, 0, 0, 0);
    if (l.oom) {
        free(l.v);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "resnet spec");
    }
    *specs = l.v;
    *count = l.n;
    return EOS_OK;
}

size_t eos_resnet_param_count(const eos_param_spec *specs, size_t count) {
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        const char *dot = strrchr(specs[i].name, '.');
        if (!dot || (strcmp(dot, ".weight") && strcmp(dot, ".bias"))) continue;  /* buffers */
        size_t numel = 1;
        for (int d = 0; d < specs[i].ndim; d++) numel *= (size_t)specs[i].shape[d];
        total += numel;
    }
    return total;
}
