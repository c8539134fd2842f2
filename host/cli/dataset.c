/* `eos dataset PATH`: what a dataset folder holds, and what a long-tailed subset keeps. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void usage_dataset(FILE *out) {
    fprintf(out,
            "usage: eos dataset PATH [--imbalance none|exp:R|step:R] [--seed N] [--skip-bad] [--resize HxW]\n\n"
            "Loads a dataset and prints the layout found, the class names, the image shape, the\n"
            "per-class train and test counts, and the per-class training counts after the\n"
            "long-tailed selection (GUIDE section 5; the test split is never subsampled).\n\n"
            "PATH is one of (detected in this order):\n"
            "  the CIFAR-10 binary release      data_batch_1..5.bin, test_batch.bin\n"
            "  the CIFAR-100 binary release     train.bin, test.bin (fine labels: 100 classes)\n"
            "  SVHN, cropped digits             train_32x32.mat, test_32x32.mat (labels 1..10, 10 = digit 0)\n"
            "  IDX files, MNIST layout          train-images-idx3-ubyte[.gz] and companions\n"
            "  list files (ImageNet-LT style)   train.txt and test.txt (or val.txt), lines\n"
            "                                   `relative/path.jpg label`, labels 0..C-1\n"
            "  image folders                    train/<class>/ and test/<class>/ (PNG, JPEG, BMP)\n\n"
            "options:\n"
            "  --imbalance P   none (default), exp:R or step:R, R = largest / smallest class\n"
            "  --seed N        seed of the selection (default 0)\n"
            "  --skip-bad      skip unreadable, corrupt or oversized images (and links that lead\n"
            "                  nowhere) and report how many (default: stop at the first, naming it);\n"
            "                  a class left without training images is still an error\n"
            "  --resize HxW    resize every image to H x W at load, as torchvision's Resize((H, W)):\n"
            "                  area (box) filter along a side that shrinks, bilinear along one that\n"
            "                  grows; without it, images of different sizes are an error\n\n"
            "example:\n  eos dataset data/cifar10 --imbalance exp:100\n  eos dataset data/cifar-100-binary --imbalance exp:100\n"
            "  eos dataset data/photos --resize 64x64\n");
}

int cmd_dataset(int argc, char **argv) {
    static const cli_command self = {"dataset", "", NULL, usage_dataset};
    const char *path = NULL, *imb_text = "none", *seed_text = "0", *resize_text = NULL;
    eos_dataset_options opt = {0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_flag_value(argc, argv, &i, "--imbalance", &imb_text)) != 0) {
            if (r < 0) return cli_usage_error(&self, "--imbalance needs a value");
        } else if ((r = cli_flag_value(argc, argv, &i, "--seed", &seed_text)) != 0) {
            if (r < 0) return cli_usage_error(&self, "--seed needs a value");
        } else if ((r = cli_flag_value(argc, argv, &i, "--resize", &resize_text)) != 0) {
            if (r < 0) return cli_usage_error(&self, "--resize needs a value");
            if (eos_resize_parse(resize_text, &opt.resize_h, &opt.resize_w) != EOS_OK)
                return cli_usage_error(&self, "%s", eos_last_error()->message);
        } else if (!strcmp(argv[i], "--skip-bad")) {
            opt.skip_bad = 1;
        } else if (argv[i][0] == '-') {
            return cli_usage_error(&self, "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error(&self, "more than one PATH ('%s' and '%s')", path, argv[i]);
        }
    }
    if (!path) return cli_usage_error(&self, "missing PATH");
    uint64_t seed;
    if (cli_parse_u64(seed_text, &seed) != 0) return cli_usage_error(&self, "--seed '%s' is not a non-negative integer", seed_text);
    eos_imbalance imb;
    if (eos_imbalance_parse(imb_text, &imb) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    eos_dataset d;
    if (eos_dataset_load(path, &opt, &d) != EOS_OK) return cli_fail("loading the dataset");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);

    size_t *idx, n;
    size_t *kept = calloc((size_t)d.classes, sizeof *kept);
    size_t *ntrain = calloc((size_t)d.classes, sizeof *ntrain), *ntest = calloc((size_t)d.classes, sizeof *ntest);
    if (!kept || !ntrain || !ntest || eos_imbalance_select(&d, &imb, seed, &idx, &n, kept) != EOS_OK) {
        free(kept); free(ntrain); free(ntest);
        eos_dataset_free(&d);
        return cli_fail("selecting the long-tailed subset");
    }
    for (size_t i = 0; i < d.train.n; i++) ntrain[d.train.labels[i]]++;
    for (size_t i = 0; i < d.test.n; i++) ntest[d.test.labels[i]]++;

    printf("dataset: %s\nlayout: %s\n", path, eos_data_layout_str(d.layout));
    printf("images: %d x %d x %d (channels x height x width)%s\n", d.channels, d.height, d.width,
           opt.resize_h ? ", resized at load" : "");
    printf("classes: %d\n", d.classes);
    printf("loaded %zu train + %zu test images in %.2f s", d.train.n, d.test.n, secs);
    if (opt.skip_bad) printf(", %zu unreadable image(s) skipped", d.skipped);
    printf("\nlong tail: %s, seed %llu\n\n", imb_text, (unsigned long long)seed);
    int w = 5;
    for (int c = 0; c < d.classes; c++) if ((int)strlen(d.class_names[c]) > w) w = (int)strlen(d.class_names[c]);
    printf("  %3s  %-*s  %8s  %8s  %10s\n", "#", w, "class", "train", "test", "long-tail");
    for (int c = 0; c < d.classes; c++)
        printf("  %3d  %-*s  %8zu  %8zu  %10zu\n", c, w, d.class_names[c], ntrain[c], ntest[c], kept[c]);
    printf("  %3s  %-*s  %8zu  %8zu  %10zu\n", "", w, "total", d.train.n, d.test.n, n);
    size_t lo = (size_t)-1, hi = 0;
    for (int c = 0; c < d.classes; c++) {
        if (kept[c] < lo) lo = kept[c];
        if (kept[c] > hi) hi = kept[c];
    }
    if (lo > 0) printf("\nimbalance ratio of the subset: %.1f (largest %zu / smallest %zu)\n", (double)hi / lo, hi, lo);
    free(idx); free(kept); free(ntrain); free(ntest);
    eos_dataset_free(&d);
    return 0;
}
