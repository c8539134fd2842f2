/* ResNet-s (GUIDE section 5): architecture names and the PyTorch state-dict layout of the
 * CIFAR ResNet family, used to check model files before any weight is loaded. */
#include "internal.h"
#include "dist.h"

#include <errno.h>
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

eos_status eos_resnet_param_specs(int n, int in_channels, int classes, eos_resnet_head head, eos_param_spec **specs,
                                  size_t *count) {
    *specs = NULL;
    *count = 0;
    if (n < 1 || in_channels < 1 || classes < 1)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resnet spec: blocks %d, input channels %d, classes %d must all be >= 1", n,
                 in_channels, classes);
    if (n > EOS_RESNET_MAX_BLOCKS)
        EOS_FAIL(EOS_ERR_INVALID_ARG, "the deepest ResNet-s is resnet1202 (200 blocks per stage)",
                 "resnet spec: %d blocks per stage, expected 1..%d", n, EOS_RESNET_MAX_BLOCKS);
    if (head != EOS_RESNET_HEAD_LINEAR && head != EOS_RESNET_HEAD_NORMED)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resnet spec: unknown head kind %d", (int)head);
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
    if (head == EOS_RESNET_HEAD_NORMED) {
        add(&l, "linear.weight", EOS_DTYPE_F32, 2, 64, classes, 0, 0);
    } else {
        add(&l, "linear.weight", EOS_DTYPE_F32, 2, classes, 64, 0, 0);
        add(&l, "linear.bias", EOS_DTYPE_F32, 1, classes, 0, 0, 0);
    }
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

/* ---- the network on a device ------------------------------------------------------------ */

#include "eos/layers.h"

#include <math.h>

/* One state-dict entry: a learnable tensor (value, grad, momentum), a BN buffer (value), or a
 * BN step counter (count). Entries follow eos_resnet_param_specs' order: stem conv1 (0), bn1
 * (1..5), then per block 12 entries (conv1, bn1 x5, conv2, bn2 x5), then linear.weight and (a
 * LINEAR head) linear.bias. */
typedef struct {
    eos_param_spec spec;
    size_t numel;
    int learnable;
    eos_tensor value, grad, mom;
    int64_t count;
} entry;

enum { BN_W = 0, BN_B = 1, BN_RM = 2, BN_RV = 3, BN_NBT = 4 };

typedef struct {
    eos_tensor c1, a1, c2, out, sc;  /* conv1 out, relu(bn1), conv2 out, block out, option-A shortcut */
    eos_tensor m1, s1, m2, s2;       /* saved batch mean / invstd of bn1, bn2 (C) */
    int in_h, in_w;                  /* the block's input size (backward: stride 2 is not invertible) */
} block_act;

struct eos_resnet {
    eos_runtime_t rt;
    int n, cin, classes;
    eos_resnet_head head;
    entry *e;
    size_t ne;
    /* activations for cap_n images of h x w */
    int cap_n, h, w;
    eos_tensor x, c0, a0, m0, s0, feat, logits, dlogits, dfeat;
    block_act *b;
    eos_tensor g[4];  /* gradient buffers, each the size of the largest activation */
    eos_workspace ws;
    eos_tensor labels_dev, weights_dev, per_sample;
    /* NORMED head: normalised features xn (N, 64), their norms (N), normalised weight wn (64, K),
     * its column norms (K), LDAM's scaled logits z and dz (N, K), margins (K), scratch */
    eos_tensor xn, xnorm, wn, wnorm, z, dz, margins_dev, scratch;
    int last_n;
};

int eos_resnet_blocks_per_stage(eos_resnet_t m) { return m->n; }
eos_runtime_t eos_resnet_runtime(eos_resnet_t m) { return m->rt; }
int eos_resnet_classes(eos_resnet_t m) { return m->classes; }
int eos_resnet_in_channels(eos_resnet_t m) { return m->cin; }
eos_resnet_head eos_resnet_head_kind(eos_resnet_t m) { return m->head; }
/* index of linear.weight (linear.bias follows it in a LINEAR head) */
static size_t head_index(eos_resnet_t m) { return m->ne - (m->head == EOS_RESNET_HEAD_NORMED ? 1 : 2); }

static int block_width(int b, int n) { return 16 << (b / n); }
static int block_stride(int b, int n) { return b > 0 && b % n == 0 ? 2 : 1; }
static size_t block_base(int b) { return 6 + 12 * (size_t)b; }

static void free_acts(eos_resnet_t m) {
    eos_tensor *t[] = {&m->x, &m->c0, &m->a0, &m->m0, &m->s0, &m->feat, &m->logits, &m->dlogits, &m->dfeat,
                       &m->g[0], &m->g[1], &m->g[2], &m->g[3]};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) eos_tensor_free(t[i]);
    if (m->b)
        for (int i = 0; i < 3 * m->n; i++) {
            eos_tensor *u[] = {&m->b[i].c1, &m->b[i].a1, &m->b[i].c2, &m->b[i].out, &m->b[i].sc,
                               &m->b[i].m1, &m->b[i].s1, &m->b[i].m2, &m->b[i].s2};
            for (size_t k = 0; k < 9; k++) eos_tensor_free(u[k]);
        }
    m->cap_n = 0;
}

void eos_resnet_free(eos_resnet_t m) {
    if (!m) return;
    free_acts(m);
    free(m->b);
    for (size_t i = 0; i < m->ne; i++) {
        eos_tensor_free(&m->e[i].value);
        eos_tensor_free(&m->e[i].grad);
        eos_tensor_free(&m->e[i].mom);
    }
    free(m->e);
    eos_workspace_free(&m->ws);
    eos_tensor *t[] = {&m->labels_dev, &m->weights_dev, &m->per_sample, &m->xn, &m->xnorm, &m->wn,
                       &m->wnorm, &m->z, &m->dz, &m->margins_dev, &m->scratch};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) eos_tensor_free(t[i]);
    free(m);
}

static eos_status alloc1(eos_runtime_t rt, eos_tensor *t, size_t n) { return eos_tensor_alloc(rt, t, 1, &n); }

/* The network's tensors, uninitialised. */
static eos_status build(eos_runtime_t rt, int n, int cin, int classes, eos_resnet_head head, eos_resnet_t *out) {
    *out = NULL;
    eos_resnet_t m = calloc(1, sizeof *m);
    if (!m) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "resnet");
    m->rt = rt;
    m->n = n;
    m->cin = cin;
    m->classes = classes;
    m->head = head;
    m->b = calloc((size_t)(3 * n), sizeof *m->b);
    eos_param_spec *spec;
    size_t ns;
    eos_status st = m->b ? eos_resnet_param_specs(n, cin, classes, head, &spec, &ns) : EOS_ERR_OUT_OF_MEMORY;
    if (st != EOS_OK) {
        free(m->b);
        free(m);
        if (st == EOS_ERR_OUT_OF_MEMORY) EOS_FAIL(st, NULL, "resnet blocks");
        return st;
    }
    m->e = calloc(ns, sizeof *m->e);
    if (!m->e) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "resnet entries");
    m->ne = m->e ? ns : 0;
    for (size_t i = 0; st == EOS_OK && i < ns; i++) {
        entry *e = &m->e[i];
        e->spec = spec[i];
        e->numel = 1;
        for (int d = 0; d < spec[i].ndim; d++) e->numel *= (size_t)spec[i].shape[d];
        if (spec[i].dtype == EOS_DTYPE_I64) continue;
        const char *dot = strrchr(spec[i].name, '.');
        e->learnable = !strcmp(dot, ".weight") || !strcmp(dot, ".bias");
        st = alloc1(rt, &e->value, e->numel);
        if (st == EOS_OK && e->learnable) st = alloc1(rt, &e->grad, e->numel);
        if (st == EOS_OK && e->learnable) st = alloc1(rt, &e->mom, e->numel);
        if (st == EOS_OK && e->learnable) st = eos_tensor_fill(&e->mom, 0.0f);
        if (st == EOS_OK && e->learnable) st = eos_tensor_fill(&e->grad, 0.0f);
    }
    free(spec);
    if (st != EOS_OK) {
        eos_resnet_free(m);
        return st;
    }
    *out = m;
    return EOS_OK;
}

static entry *find(eos_resnet_t m, const char *name) {
    for (size_t i = 0; i < m->ne; i++)
        if (!strcmp(m->e[i].spec.name, name)) return &m->e[i];
    return NULL;
}

eos_status eos_resnet_create(eos_runtime_t rt, int n, int cin, int classes, eos_resnet_head head, uint64_t seed,
                             eos_resnet_t *out) {
    EOS_TRY(build(rt, n, cin, classes, head, out));
    eos_resnet_t m = *out;
    eos_rng r;
    eos_rng_seed(&r, seed, 0x494e4954);  /* "INIT" */
    eos_status st = EOS_OK;
    for (size_t i = 0; st == EOS_OK && i < m->ne; i++) {
        entry *e = &m->e[i];
        if (e->spec.dtype == EOS_DTYPE_I64) continue;
        const char *name = e->spec.name, *dot = strrchr(name, '.');
        int is_bn = strstr(name, "bn") != NULL;
        if (is_bn) {  /* gamma 1, beta 0, running mean 0, running var 1 (PyTorch) */
            float v = !strcmp(dot, ".weight") || !strcmp(dot, ".running_var") ? 1.0f : 0.0f;
            st = eos_tensor_fill(&e->value, v);
            continue;
        }
        float *h = malloc(e->numel * sizeof *h);
        if (!h) { st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "init"); break; }
        int64_t fan_in = e->spec.ndim == 4 ? e->spec.shape[1] * e->spec.shape[2] * e->spec.shape[3] : 64;
        if (head == EOS_RESNET_HEAD_NORMED && i == head_index(m)) {
            /* NormedLinear: U(-1, 1), every column (64) scaled to unit norm */
            int K = classes;
            for (size_t k = 0; k < e->numel; k++) h[k] = 2.0f * eos_rng_uniform(&r) - 1.0f;
            for (int c = 0; c < K; c++) {
                double s2 = 0;
                for (int f = 0; f < 64; f++) s2 += (double)h[f * K + c] * h[f * K + c];
                float inv = s2 > 0 ? (float)(1.0 / sqrt(s2)) : 1.0f;
                for (int f = 0; f < 64; f++) h[f * K + c] *= inv;
            }
        } else if (!strcmp(dot, ".weight")) {  /* Kaiming normal, fan_in, gain sqrt(2) */
            float sd = (float)sqrt(2.0 / (double)fan_in);
            for (size_t k = 0; k < e->numel; k++) h[k] = sd * eos_rng_normal(&r);
        } else {  /* nn.Linear's default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
            float bound = 1.0f / sqrtf((float)fan_in);
            for (size_t k = 0; k < e->numel; k++) h[k] = bound * (2.0f * eos_rng_uniform(&r) - 1.0f);
        }
        st = eos_tensor_upload(&e->value, h, e->numel);
        free(h);
    }
    if (st != EOS_OK) {
        eos_resnet_free(m);
        *out = NULL;
    }
    return st;
}

eos_status eos_resnet_load(eos_runtime_t rt, const char *path, eos_resnet_t *out) {
    *out = NULL;
    eos_safetensors f;
    EOS_TRY(eos_safetensors_read(path, &f));
    const eos_named_tensor *w0 = eos_safetensors_find(&f, "conv1.weight"), *lw = eos_safetensors_find(&f, "linear.weight");
    /* no linear.bias: LDAM's normalised head, weight (64, classes) */
    eos_resnet_head head = eos_safetensors_find(&f, "linear.bias") ? EOS_RESNET_HEAD_LINEAR : EOS_RESNET_HEAD_NORMED;
    /* blocks per stage: the highest block index any layer tensor names, bounded before anything
     * is sized by it (a missing block in between is then reported by the name check) */
    int n = 0;
    for (size_t i = 0; i < f.count; i++) {
        const char *name = f.tensors[i].name;
        size_t len = strncmp(name, "layer", 5) ? 0 : 5 + strspn(name + 5, "0123456789");
        if (len <= 5 || name[len] != '.' || name[len + 1] < '0' || name[len + 1] > '9') continue;
        len++;
        char *end;
        errno = 0;
        unsigned long block = strtoul(name + len, &end, 10);
        if (*end != '.') continue;
        if (errno || block >= EOS_RESNET_MAX_BLOCKS) {
            eos_status st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                           "the deepest ResNet-s is resnet1202 (200 blocks per stage)",
                                           "%s: tensor '%s' names block %.*s of a stage; a ResNet-s model has 1..%d "
                                           "blocks per stage", path, name, (int)(end - name - len), name + len,
                                           EOS_RESNET_MAX_BLOCKS);
            eos_safetensors_free(&f);  /* after the message: name points into f */
            return st;
        }
        if ((int)block + 1 > n) n = (int)block + 1;
    }
    if (!w0 || !lw || w0->ndim != 4 || lw->ndim != 2 || n == 0) {
        eos_safetensors_free(&f);
        EOS_FAIL(EOS_ERR_FORMAT, "a ResNet-s model has conv1.weight, layer1.0.conv1.weight, ... and linear.weight",
                 "%s is not a ResNet-s model (%s)", path,
                 !w0 ? "no conv1.weight" : !lw ? "no linear.weight" : n == 0 ? "no layer1.0.conv1.weight" : "bad shapes");
    }
    int cin = (int)w0->shape[1], classes = (int)lw->shape[head == EOS_RESNET_HEAD_NORMED ? 1 : 0];
    eos_param_spec *spec;
    size_t ns;
    eos_status st = eos_resnet_param_specs(n, cin, classes, head, &spec, &ns);
    if (st == EOS_OK) {
        st = eos_safetensors_check(&f, spec, ns, path);
        free(spec);
    }
    if (st == EOS_OK) st = build(rt, n, cin, classes, head, out);
    for (size_t i = 0; st == EOS_OK && i < (*out)->ne; i++) {
        entry *e = &(*out)->e[i];
        const eos_named_tensor *t = eos_safetensors_find(&f, e->spec.name);
        if (e->spec.dtype == EOS_DTYPE_I64) e->count = *(const int64_t *)t->data;
        else st = eos_tensor_upload(&e->value, t->data, e->numel);
    }
    eos_safetensors_free(&f);
    if (st != EOS_OK && *out) {
        eos_resnet_free(*out);
        *out = NULL;
    }
    return st;
}

eos_status eos_resnet_save(eos_resnet_t m, const char *path) {
    eos_named_tensor *t = calloc(m->ne, sizeof *t);
    if (!t) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "saving %s", path);
    eos_status st = EOS_OK;
    for (size_t i = 0; st == EOS_OK && i < m->ne; i++) {
        entry *e = &m->e[i];
        snprintf(t[i].name, sizeof t[i].name, "%s", e->spec.name);
        t[i].dtype = e->spec.dtype;
        t[i].ndim = e->spec.ndim;
        for (int d = 0; d < e->spec.ndim; d++) t[i].shape[d] = e->spec.shape[d];
        if (e->spec.dtype == EOS_DTYPE_I64) {
            t[i].data = &e->count;
            continue;
        }
        t[i].data = malloc(e->numel * sizeof(float));
        st = t[i].data ? eos_tensor_download(&e->value, t[i].data, e->numel)
                       : eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "saving %s", path);
    }
    if (st == EOS_OK) st = eos_safetensors_write(path, t, m->ne);
    for (size_t i = 0; i < m->ne; i++)
        if (m->e[i].spec.dtype != EOS_DTYPE_I64) free(t[i].data);
    free(t);
    return st;
}

eos_status eos_resnet_get(eos_resnet_t m, const char *name, int grad, float *host, size_t n) {
    entry *e = find(m, name);
    if (!e) EOS_FAIL(EOS_ERR_NOT_FOUND, NULL, "the network has no tensor '%s'", name);
    if (e->spec.dtype == EOS_DTYPE_I64) {
        if (n != 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "%s is a scalar", name);
        host[0] = (float)e->count;
        return EOS_OK;
    }
    if (grad && !e->learnable) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "%s has no gradient", name);
    return eos_tensor_download(grad ? &e->grad : &e->value, host, n);
}

eos_status eos_resnet_set(eos_resnet_t m, const char *name, const float *host, size_t n) {
    entry *e = find(m, name);
    if (!e || e->spec.dtype == EOS_DTYPE_I64) EOS_FAIL(EOS_ERR_NOT_FOUND, NULL, "the network has no float tensor '%s'", name);
    return eos_tensor_upload(&e->value, host, n);
}

/* Activations for N images of h x w (kept when they already fit). */
static eos_status ensure_acts(eos_resnet_t m, int N, int h, int w) {
    if (m->cap_n >= N && m->h == h && m->w == w) return EOS_OK;
    free_acts(m);
    eos_runtime_t rt = m->rt;
    size_t big = (size_t)N * 16 * h * w;
    EOS_TRY(alloc1(rt, &m->x, (size_t)N * m->cin * h * w));
    EOS_TRY(alloc1(rt, &m->c0, big));
    EOS_TRY(alloc1(rt, &m->a0, big));
    EOS_TRY(alloc1(rt, &m->m0, 16));
    EOS_TRY(alloc1(rt, &m->s0, 16));
    int H = h, W = w;
    for (int b = 0; b < 3 * m->n; b++) {
        int C = block_width(b, m->n), s = block_stride(b, m->n);
        int OH = (H + 2 - 3) / s + 1, OW = (W + 2 - 3) / s + 1;
        size_t sz = (size_t)N * C * OH * OW;
        block_act *a = &m->b[b];
        EOS_TRY(alloc1(rt, &a->c1, sz));
        EOS_TRY(alloc1(rt, &a->a1, sz));
        EOS_TRY(alloc1(rt, &a->c2, sz));
        EOS_TRY(alloc1(rt, &a->out, sz));
        if (s != 1 || (b > 0 && C != block_width(b - 1, m->n))) EOS_TRY(alloc1(rt, &a->sc, sz));
        EOS_TRY(alloc1(rt, &a->m1, (size_t)C));
        EOS_TRY(alloc1(rt, &a->s1, (size_t)C));
        EOS_TRY(alloc1(rt, &a->m2, (size_t)C));
        EOS_TRY(alloc1(rt, &a->s2, (size_t)C));
        H = OH;
        W = OW;
    }
    EOS_TRY(alloc1(rt, &m->feat, (size_t)N * 64));
    EOS_TRY(alloc1(rt, &m->dfeat, (size_t)N * 64));
    EOS_TRY(alloc1(rt, &m->logits, (size_t)N * m->classes));
    EOS_TRY(alloc1(rt, &m->dlogits, (size_t)N * m->classes));
    for (int i = 0; i < 4; i++) EOS_TRY(alloc1(rt, &m->g[i], big));
    m->cap_n = N;
    m->h = h;
    m->w = w;
    return EOS_OK;
}

static const float k_bn_momentum = 0.1f, k_bn_eps = 1e-5f;

/* bn entry base -> (gamma, beta, running mean, running var) tensors */
#define BN_ARGS(m, base) &(m)->e[(base) + BN_W].value, &(m)->e[(base) + BN_B].value, &(m)->e[(base) + BN_RM].value, &(m)->e[(base) + BN_RV].value

/* Batch norm (entries from base) then ReLU, + res before the ReLU when not NULL: y from x. In
 * training with part, the batch's statistics are x's partials (C, P, 3) already taken
 * (eos__conv2d_forward_stats). */
static eos_status bn_forward(eos_resnet_t m, int train, size_t base, int N, int C, int HW, const eos_tensor *x,
                             eos_tensor *mean, eos_tensor *invstd, const eos_tensor *res, cl_mem part, int P,
                             eos_tensor *y) {
    if (!train) return eos_batchnorm_forward_eval(m->rt, N, C, HW, x, BN_ARGS(m, base), mean, invstd, res, 1, k_bn_eps, y);
    m->e[base + BN_NBT].count++;
    if (part)
        return eos__batchnorm_forward_train_part(m->rt, N, C, HW, x, BN_ARGS(m, base), mean, invstd, res, 1,
                                                 k_bn_momentum, k_bn_eps, part, P, y);
    return eos_batchnorm_forward_train(m->rt, N, C, HW, x, BN_ARGS(m, base), mean, invstd, res, 1, k_bn_momentum,
                                       k_bn_eps, y);
}

/* Convolution (weights entry wi) then batch norm (entries from bn) then ReLU, + res before the
 * ReLU when not NULL: y. Where the convolution runs direct, direct16 or fused winograd
 * (EOS_BN_FUSE unset or 1): in
 * evaluation one pass with the batch norm folded into it (eos__conv2d_forward_fused; invstd
 * then holds its shift); in training the convolution into c with the batch's statistics taken
 * from its sums (eos__conv2d_forward_stats), then the batch norm's merge and apply. Else the
 * convolution into c, then the batch norm. */
static eos_status conv_bn(eos_resnet_t m, int train, const eos_conv_shape *cs, const eos_tensor *in, size_t wi,
                          size_t bn, eos_tensor *c, eos_tensor *mean, eos_tensor *invstd, const eos_tensor *res,
                          eos_tensor *y) {
    eos_runtime_t rt = m->rt;
    int OH = eos_conv_out(cs->H, cs->R, cs->stride, cs->pad), OW = eos_conv_out(cs->W, cs->R, cs->stride, cs->pad);
    int fused = 0, P = 0;
    cl_mem part = NULL;
    if (eos__bn_fuse() && !train) {
        EOS_TRY(eos__conv2d_forward_fused(rt, cs, in, &m->e[wi].value, BN_ARGS(m, bn), k_bn_eps, invstd, res, 1, y,
                                          &m->ws, &fused));
        if (fused) return EOS_OK;
    }
    if (eos__bn_fuse() && train)
        EOS_TRY(eos__conv2d_forward_stats(rt, cs, in, &m->e[wi].value, c, &m->ws, &part, &P, &fused));
    if (!fused) EOS_TRY(eos_conv2d_forward(rt, cs, in, &m->e[wi].value, NULL, c, &m->ws));
    return bn_forward(m, train, bn, cs->N, cs->K, OH * OW, c, mean, invstd, res, part, P, y);
}

eos_status eos_resnet_forward(eos_resnet_t m, int train, int N, int h, int w, const float *x) {
    if (N < 1 || h < 1 || w < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resnet forward: N=%d h=%d w=%d", N, h, w);
    EOS_TRY(ensure_acts(m, N, h, w));
    eos_runtime_t rt = m->rt;
    size_t nx = (size_t)N * m->cin * h * w;
    EOS_CL_CHECK(clEnqueueWriteBuffer(eos_runtime_queue(rt), m->x.buf, CL_TRUE, 0, nx * sizeof(float), x, 0, NULL, NULL),
                 "uploading a batch of %d images", N);
    eos_conv_shape cs = {N, m->cin, h, w, 16, 3, 1, 1};
    EOS_TRY(conv_bn(m, train, &cs, &m->x, 0, 1, &m->c0, &m->m0, &m->s0, NULL, &m->a0));
    const eos_tensor *in = &m->a0;
    int H = h, W = w, Cin = 16;
    for (int b = 0; b < 3 * m->n; b++) {
        int C = block_width(b, m->n), s = block_stride(b, m->n);
        int OH = (H - 1) / s + 1, OW = (W - 1) / s + 1;
        block_act *a = &m->b[b];
        size_t base = block_base(b);
        eos_conv_shape c1 = {N, Cin, H, W, C, 3, s, 1}, c2 = {N, C, OH, OW, C, 3, 1, 1};
        EOS_TRY(conv_bn(m, train, &c1, in, base, base + 1, &a->c1, &a->m1, &a->s1, NULL, &a->a1));
        const eos_tensor *sc = in;
        if (a->sc.buf) {
            EOS_TRY(eos_shortcut_a_forward(rt, N, Cin, H, W, C, in, &a->sc));
            sc = &a->sc;
        }
        EOS_TRY(conv_bn(m, train, &c2, &a->a1, base + 6, base + 7, &a->c2, &a->m2, &a->s2, sc, &a->out));
        in = &a->out;
        H = OH;
        W = OW;
        Cin = C;
    }
    EOS_TRY(eos_avgpool_forward(rt, N, 64, H * W, in, &m->feat));
    size_t lw = head_index(m);
    if (m->head == EOS_RESNET_HEAD_NORMED)
        EOS_TRY(eos_normed_linear_forward(rt, N, 64, m->classes, &m->feat, &m->e[lw].value, &m->xn, &m->xnorm, &m->wn,
                                          &m->wnorm, &m->logits));
    else
        EOS_TRY(eos_linear_forward(rt, N, 64, m->classes, &m->feat, &m->e[lw].value, &m->e[lw + 1].value, &m->logits));
    m->last_n = N;
    return EOS_OK;
}

eos_status eos_resnet_outputs(eos_resnet_t m, int N, float *logits, float *features) {
    if (N > m->last_n) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resnet outputs: asked for %d, the last forward had %d", N, m->last_n);
    cl_command_queue q = eos_runtime_queue(m->rt);
    if (logits)
        EOS_CL_CHECK(clEnqueueReadBuffer(q, m->logits.buf, CL_TRUE, 0, (size_t)N * m->classes * sizeof(float), logits, 0,
                                         NULL, NULL), "reading logits");
    if (features)
        EOS_CL_CHECK(clEnqueueReadBuffer(q, m->feat.buf, CL_TRUE, 0, (size_t)N * 64 * sizeof(float), features, 0, NULL,
                                         NULL), "reading features");
    return EOS_OK;
}

eos_status eos_resnet_features_to(eos_resnet_t m, int N, eos_tensor *dst, size_t row) {
    if (N < 0 || N > m->last_n) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resnet features: asked for %d, the last forward had %d", N, m->last_n);
    if (!dst || !dst->buf || dst->rt != m->rt || dst->ndim != 2 || dst->shape[1] != 64)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resnet features: expected a tensor (rows, 64) of the network's runtime");
    if (row > dst->shape[0] || (size_t)N > dst->shape[0] - row) {
        char s[128];
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resnet features: rows %zu..%zu do not fit in %s", row, row + (size_t)N,
                 eos_tensor_shape_str(dst, s, sizeof s));
    }
    if (N == 0) return EOS_OK;
    /* a copy on the in-order queue: the next forward's pooling waits for it, so feat is reused
     * safely and no host wait is needed */
    EOS_CL_CHECK(clEnqueueCopyBuffer(eos_runtime_queue(m->rt), m->feat.buf, dst->buf, 0, row * 64 * sizeof(float),
                                     (size_t)N * 64 * sizeof(float), 0, NULL, NULL),
                 "copying %d feature rows on the device", N);
    return EOS_OK;
}

/* The backward of the batch norm + ReLU that bn describes (its ReLU output, input and mean), over
 * (N, C, HW), its gamma and beta the entry at p and p + 1 (their gradients written there): with
 * its sums already taken by the convolution that wrote dy (bn->fused, dy already masked), their
 * merge and the apply; else the batch norm's own passes */
static eos_status bn_relu_backward(eos_runtime_t rt, int N, int C, int HW, eos_tensor *dy,
                                   const eos__bn_backward_sums *bn, const eos_tensor *invstd, entry *p,
                                   eos_tensor *dx) {
    if (bn->fused)
        return eos__batchnorm_relu_backward_part(rt, N, C, HW, dy, bn->x, bn->mean, invstd, &p[0].value, dx,
                                                 &p[0].grad, &p[1].grad, bn->part, bn->P);
    return eos_batchnorm_relu_backward(rt, N, C, HW, dy, bn->y, bn->x, bn->mean, invstd, &p[0].value, dx, &p[0].grad,
                                       &p[1].grad);
}

eos_status eos_resnet_backward(eos_resnet_t m, int N, const int32_t *labels, const float *class_weights, float *loss) {
    return eos_resnet_backward_loss(m, N, labels, NULL, class_weights, loss);
}

eos_status eos_resnet_backward_loss(eos_resnet_t m, int N, const int32_t *labels, const eos_loss_spec *spec,
                                    const float *class_weights, float *loss) {
    static const eos_loss_spec ce = {.kind = EOS_LOSS_CE};
    if (!spec) spec = &ce;
    if (N != m->last_n) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resnet backward for %d images after a forward of %d", N, m->last_n);
    eos_runtime_t rt = m->rt;
    size_t lw = head_index(m);
    if (m->head == EOS_RESNET_HEAD_NORMED) {
        if (spec->kind != EOS_LOSS_LDAM)
            EOS_FAIL(EOS_ERR_INVALID_ARG, "train a network with a normalised head with the ldam loss",
                     "resnet backward: this network has LDAM's normalised head, which takes only the LDAM loss");
        if (!spec->margins) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resnet backward: the LDAM loss needs its margins");
        EOS_TRY(eos_ldam_loss(rt, N, m->classes, &m->logits, labels, spec->margins, spec->s, class_weights, &m->z,
                              &m->labels_dev, &m->margins_dev, &m->weights_dev, &m->per_sample, &m->dz, &m->dlogits,
                              loss));
        EOS_TRY(eos_normed_linear_backward(rt, N, 64, m->classes, &m->xn, &m->xnorm, &m->wn, &m->wnorm, &m->dlogits,
                                           &m->dfeat, &m->e[lw].grad, &m->scratch));
    } else {
        if (spec->kind == EOS_LOSS_LDAM)
            EOS_FAIL(EOS_ERR_INVALID_ARG, "create the network with EOS_RESNET_HEAD_NORMED (eos train --loss ldam does)",
                     "resnet backward: the LDAM loss needs LDAM's normalised head; this network has a linear one");
        EOS_TRY(eos_loss_forward_backward(rt, spec, N, m->classes, &m->logits, labels, class_weights, &m->labels_dev,
                                          &m->weights_dev, &m->per_sample, &m->dlogits, loss));
        EOS_TRY(eos_linear_backward(rt, N, 64, m->classes, &m->feat, &m->e[lw].value, &m->dlogits, &m->dfeat,
                                    &m->e[lw].grad, &m->e[lw + 1].grad));
    }
    /* spatial size at the end; each block's input size kept with the block (any depth) */
    int H = m->h, W = m->w;
    for (int b = 0; b < 3 * m->n; b++) {
        m->b[b].in_h = H;
        m->b[b].in_w = W;
        int s = block_stride(b, m->n);
        H = (H - 1) / s + 1;
        W = (W - 1) / s + 1;
    }
    eos_tensor *G = &m->g[0], *T1 = &m->g[1], *T2 = &m->g[2], *T3 = &m->g[3];
    EOS_TRY(eos_avgpool_backward(rt, N, 64, H * W, &m->dfeat, G));
    /* A batch norm's backward sums taken in the stores of the data gradient that feeds it, where
     * that runs fused winograd (eos__conv2d_backward_bn): bn1's from conv2's, the block output's
     * batch norm (bn2, or the stem's) from the next block's conv1 when its shortcut is the
     * identity. out: the block output's batch norm, the current block's bn2 at the top of the
     * loop (its sums taken by the block after it), the previous block's bn2 or the stem's at the
     * bottom. */
    const int fuse = eos__bn_fuse();
    const block_act *last = &m->b[3 * m->n - 1];
    eos__bn_backward_sums out = {&last->out, &last->c2, &last->m2, NULL, 0, 0};
    for (int b = 3 * m->n - 1; b >= 0; b--) {
        int C = block_width(b, m->n), s = block_stride(b, m->n), Cin = b ? block_width(b - 1, m->n) : 16;
        int Hi = m->b[b].in_h, Wi = m->b[b].in_w, OH = (Hi - 1) / s + 1, OW = (Wi - 1) / s + 1;
        size_t base = block_base(b);
        block_act *a = &m->b[b];
        const eos_tensor *in = b ? &m->b[b - 1].out : &m->a0;
        /* G becomes dy * (out > 0), the shortcut's gradient too */
        EOS_TRY(bn_relu_backward(rt, N, C, OH * OW, G, &out, &a->s2, &m->e[base + 7], T1));
        eos_conv_shape c2 = {N, C, OH, OW, C, 3, 1, 1}, c1 = {N, Cin, Hi, Wi, C, 3, s, 1};
        eos__bn_backward_sums bn1 = {&a->a1, &a->c1, &a->m1, NULL, 0, 0};
        if (fuse)
            EOS_TRY(eos__conv2d_backward_bn(rt, &c2, &a->a1, &m->e[base + 6].value, T1, T2, &m->e[base + 6].grad, NULL,
                                            &bn1, &m->ws));
        else
            EOS_TRY(eos_conv2d_backward(rt, &c2, &a->a1, &m->e[base + 6].value, T1, T2, &m->e[base + 6].grad, NULL,
                                        &m->ws));
        EOS_TRY(bn_relu_backward(rt, N, C, OH * OW, T2, &bn1, &a->s1, &m->e[base + 1], T1));
        out = (eos__bn_backward_sums){in, b ? &m->b[b - 1].c2 : &m->c0, b ? &m->b[b - 1].m2 : &m->m0, NULL, 0, 0};
        if (a->sc.buf) {
            EOS_TRY(eos_conv2d_backward(rt, &c1, in, &m->e[base].value, T1, T3, &m->e[base].grad, NULL, &m->ws));
            EOS_TRY(eos_shortcut_a_backward(rt, N, Cin, Hi, Wi, C, G, T3, 1));
        } else if (fuse) {  /* the identity shortcut's gradient added as conv1's data gradient is stored */
            EOS_TRY(eos__conv2d_backward_bn(rt, &c1, in, &m->e[base].value, T1, T3, &m->e[base].grad, G, &out,
                                            &m->ws));
        } else {
            EOS_TRY(eos__conv2d_backward_add(rt, &c1, in, &m->e[base].value, T1, T3, &m->e[base].grad, G, &m->ws));
        }
        eos_tensor *t = G;  /* T3 now holds d(block input) */
        G = T3;
        T3 = t;
    }
    EOS_TRY(bn_relu_backward(rt, N, 16, m->h * m->w, G, &out, &m->s0, &m->e[1], T1));
    eos_conv_shape cs = {N, m->cin, m->h, m->w, 16, 3, 1, 1};
    return eos_conv2d_backward(rt, &cs, &m->x, &m->e[0].value, T1, NULL, &m->e[0].grad, NULL, &m->ws);
}

eos_status eos__resnet_state_bcast(eos_resnet_t m) {
    eos_status st = EOS_OK;
    for (size_t i = 0; st == EOS_OK && i < m->ne; i++) {
        /* the weights agree already; a step counter (no tensor) counts the same steps everywhere */
        if (m->e[i].learnable || m->e[i].numel == 0 || !m->e[i].value.buf) continue;
        float *v = malloc(m->e[i].numel * sizeof *v);
        if (!v) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "running statistics of %zu floats", m->e[i].numel);
        st = eos_tensor_download(&m->e[i].value, v, m->e[i].numel);
        if (st == EOS_OK && eos__dist_bcast_floats(v, m->e[i].numel) != 0)
            st = eos__error_set(EOS_ERR_INTERNAL, __FILE__, __LINE__, "MPI_Bcast", NULL,
                                "receiving rank 0's batch-norm statistics failed");
        if (st == EOS_OK) st = eos_tensor_upload(&m->e[i].value, v, m->e[i].numel);
        free(v);
    }
    return st;
}

eos_status eos__resnet_grads_allreduce(eos_resnet_t m, float weight) {
    size_t total = 0;
    for (size_t i = 0; i < m->ne; i++)
        if (m->e[i].learnable) total += m->e[i].numel;
    float *g = malloc((total ? total : 1) * sizeof *g);  /* every gradient, in entry order */
    if (!g) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "gradient allreduce buffer of %zu floats", total);
    eos_status st = EOS_OK;
    size_t off = 0;
    for (size_t i = 0; st == EOS_OK && i < m->ne; i++)
        if (m->e[i].learnable) {
            st = eos_tensor_download(&m->e[i].grad, g + off, m->e[i].numel);
            off += m->e[i].numel;
        }
    for (size_t k = 0; st == EOS_OK && k < total; k++) g[k] *= weight;
    if (st == EOS_OK && eos__dist_allreduce_sum(g, total) != 0)
        st = eos__error_set(EOS_ERR_INTERNAL, __FILE__, __LINE__, "MPI_Allreduce", NULL,
                            "the gradient allreduce across the MPI ranks failed");
    off = 0;
    for (size_t i = 0; st == EOS_OK && i < m->ne; i++)
        if (m->e[i].learnable) {
            st = eos_tensor_upload(&m->e[i].grad, g + off, m->e[i].numel);
            off += m->e[i].numel;
        }
    free(g);
    return st;
}

eos_status eos_resnet_sgd_step(eos_resnet_t m, float lr, float momentum, float weight_decay) {
    for (size_t i = 0; i < m->ne; i++)
        if (m->e[i].learnable)
            EOS_TRY(eos_sgd_step(m->rt, m->e[i].numel, &m->e[i].value, &m->e[i].grad, &m->e[i].mom, lr, momentum,
                                 weight_decay));
    return EOS_OK;
}

eos_status eos_resnet_linear_head(eos_resnet_t m, float *weight, float *bias) {
    int K = m->classes;
    size_t lw = head_index(m);
    if (m->head == EOS_RESNET_HEAD_LINEAR) {
        EOS_TRY(eos_tensor_download(&m->e[lw].value, weight, (size_t)K * 64));
        return eos_tensor_download(&m->e[lw + 1].value, bias, (size_t)K);
    }
    float *w = malloc((size_t)K * 64 * sizeof *w);  /* (64, K) */
    if (!w) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "reading the head");
    eos_status st = eos_tensor_download(&m->e[lw].value, w, (size_t)K * 64);
    for (int c = 0; st == EOS_OK && c < K; c++) {
        double s2 = 0;
        for (int f = 0; f < 64; f++) s2 += (double)w[f * K + c] * w[f * K + c];
        float inv = (float)(1.0 / fmax(sqrt(s2), 1e-12));  /* F.normalize's eps */
        for (int f = 0; f < 64; f++) weight[c * 64 + f] = w[f * K + c] * inv;
        bias[c] = 0.0f;
    }
    free(w);
    return st;
}

eos_status eos_resnet_replace_head(eos_resnet_t m, const float *weight, const float *bias) {
    int K = m->classes;
    if (m->head == EOS_RESNET_HEAD_NORMED) {
        entry *e = realloc(m->e, (m->ne + 1) * sizeof *e);
        if (!e) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "replacing the head");
        m->e = e;
        entry *w = &e[m->ne - 1], *b = &e[m->ne];
        eos_tensor_free(&w->value);
        eos_tensor_free(&w->grad);
        eos_tensor_free(&w->mom);
        memset(w, 0, 2 * sizeof *w);
        snprintf(w->spec.name, sizeof w->spec.name, "linear.weight");
        w->spec.dtype = EOS_DTYPE_F32;
        w->spec.ndim = 2;
        w->spec.shape[0] = K;
        w->spec.shape[1] = 64;
        w->numel = (size_t)K * 64;
        snprintf(b->spec.name, sizeof b->spec.name, "linear.bias");
        b->spec.dtype = EOS_DTYPE_F32;
        b->spec.ndim = 1;
        b->spec.shape[0] = K;
        b->numel = (size_t)K;
        w->learnable = b->learnable = 1;
        m->ne++;
        m->head = EOS_RESNET_HEAD_LINEAR;
        for (int i = 0; i < 2; i++) {
            entry *t = i ? b : w;
            EOS_TRY(alloc1(m->rt, &t->value, t->numel));
            EOS_TRY(alloc1(m->rt, &t->grad, t->numel));
            EOS_TRY(alloc1(m->rt, &t->mom, t->numel));
        }
    }
    size_t lw = head_index(m);
    for (int i = 0; i < 2; i++) {
        EOS_TRY(eos_tensor_fill(&m->e[lw + i].grad, 0.0f));
        EOS_TRY(eos_tensor_fill(&m->e[lw + i].mom, 0.0f));
    }
    EOS_TRY(eos_tensor_upload(&m->e[lw].value, weight, (size_t)K * 64));
    return eos_tensor_upload(&m->e[lw + 1].value, bias, (size_t)K);
}

/* ---- training state and memory estimate (checkpoints and out-of-memory hints) ------------ */

void eos_named_tensors_free(eos_named_tensor *t, size_t count) {
    if (!t) return;
    for (size_t i = 0; i < count; i++) free(t[i].data);
    free(t);
}

/* names and shapes of the state: the state dict, then "mom.<name>" for every learnable tensor */
static eos_status state_specs(eos_resnet_t m, eos_param_spec **specs, size_t *count) {
    size_t n = m->ne;
    for (size_t i = 0; i < m->ne; i++) n += m->e[i].learnable;
    eos_param_spec *s = calloc(n, sizeof *s);
    if (!s) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "training state of the network");
    size_t k = m->ne;
    for (size_t i = 0; i < m->ne; i++) {
        s[i] = m->e[i].spec;
        if (!m->e[i].learnable) continue;
        s[k] = m->e[i].spec;
        snprintf(s[k].name, sizeof s[k].name, "mom.%.*s", EOS_MAX_TENSOR_NAME - 5, m->e[i].spec.name);
        k++;
    }
    *specs = s;
    *count = n;
    return EOS_OK;
}

eos_status eos_resnet_state_get(eos_resnet_t m, eos_named_tensor **out, size_t *count) {
    *out = NULL;
    *count = 0;
    eos_param_spec *s;
    size_t n;
    EOS_TRY(state_specs(m, &s, &n));
    eos_named_tensor *t = calloc(n, sizeof *t);
    eos_status st = t ? EOS_OK : eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "training state");
    size_t k = m->ne;
    for (size_t i = 0; st == EOS_OK && i < m->ne; i++) {
        const entry *e = &m->e[i];
        for (int mom = 0; st == EOS_OK && mom <= e->learnable; mom++) {
            size_t at = mom ? k++ : i;
            eos_named_tensor *x = &t[at];
            memcpy(x->name, s[at].name, sizeof x->name);
            x->dtype = e->spec.dtype;
            x->ndim = e->spec.ndim;
            for (int d = 0; d < e->spec.ndim; d++) x->shape[d] = e->spec.shape[d];
            x->numel = e->numel;
            x->data = malloc(e->numel * (e->spec.dtype == EOS_DTYPE_I64 ? sizeof(int64_t) : sizeof(float)));
            if (!x->data) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "training state");
            else if (e->spec.dtype == EOS_DTYPE_I64) *(int64_t *)x->data = e->count;
            else st = eos_tensor_download(mom ? &e->mom : &e->value, x->data, e->numel);
        }
    }
    free(s);
    if (st != EOS_OK) {
        eos_named_tensors_free(t, n);
        return st;
    }
    *out = t;
    *count = n;
    return EOS_OK;
}

eos_status eos_resnet_state_set(eos_resnet_t m, const eos_safetensors *f, const char *path) {
    eos_param_spec *s;
    size_t n;
    EOS_TRY(state_specs(m, &s, &n));
    eos_status st = eos_safetensors_check(f, s, n, path);  /* every name and shape before any upload */
    size_t k = m->ne;
    for (size_t i = 0; st == EOS_OK && i < m->ne; i++) {
        entry *e = &m->e[i];
        for (int mom = 0; st == EOS_OK && mom <= e->learnable; mom++) {
            const eos_named_tensor *t = eos_safetensors_find(f, s[mom ? k++ : i].name);
            if (e->spec.dtype == EOS_DTYPE_I64) e->count = *(const int64_t *)t->data;
            else st = eos_tensor_upload(mom ? &e->mom : &e->value, t->data, e->numel);
        }
    }
    free(s);
    return st;
}

void eos_resnet_memory_estimate(int blocks_per_stage, int in_channels, int classes, int H, int W,
                                eos_resnet_memory *out) {
    memset(out, 0, sizeof *out);
    size_t hw = (size_t)H * W, per = (size_t)in_channels * hw + 6 * 16 * hw, big = 16 * hw;
    /* im2col workspace of the widest convolution: columns, its output, and their gradient */
    size_t col = (size_t)(in_channels > 16 ? in_channels : 16) * 9 * hw;
    int h = H, w = W, cin = 16;
    for (int b = 0; b < 3 * blocks_per_stage; b++) {
        int C = block_width(b, blocks_per_stage), s = block_stride(b, blocks_per_stage);
        h = (h - 1) / s + 1;
        w = (w - 1) / s + 1;
        size_t sz = (size_t)C * h * w;
        per += 4 * sz + (s != 1 || C != cin ? sz : 0);
        size_t c2 = (size_t)C * 9 * h * w;
        if (c2 > col) col = c2;
        cin = C;
    }
    per += 2 * 64 + 4 * (size_t)classes + 4;
    size_t ws = 2 * col + 16 * hw;  /* columns and their gradient, the GEMM output */
    size_t params = 0;
    eos_param_spec *specs;
    size_t ns;
    if (eos_resnet_param_specs(blocks_per_stage, in_channels, classes, EOS_RESNET_HEAD_LINEAR, &specs, &ns) == EOS_OK) {
        params = eos_resnet_param_count(specs, ns);
        free(specs);
    }
    out->fixed_bytes = 3 * params * sizeof(float) + ((size_t)1 << 20);  /* value, grad, momentum; scratch */
    out->per_image_bytes = (per + ws) * sizeof(float);
    out->largest_per_image_bytes = (col > big ? col : big) * sizeof(float);
}
