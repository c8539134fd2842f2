/* Example: evaluate a trained model (model.safetensors from `eos train`) on the test split of a
 * dataset (CIFAR-10 binary or image folders) and print its accuracy and balanced accuracy, the
 * numbers `eos evaluate` writes to metrics.json. Built against the installed library.
 *     evaluate MODEL.safetensors DATASET [DEVICE] */
#include <eos/eos.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL.safetensors DATASET [DEVICE]\n", argv[0]);
        return 2;
    }
    eos_runtime_t rt = NULL;
    eos_resnet_t model = NULL;
    eos_dataset data = {0};
    int have_data = 0, rc = 1;
    int32_t *pred = NULL;
    eos_metrics met;
    /* every call returns an eos_status; the last error says what, where and what to do */
    if (eos_runtime_init(&rt, argc > 3 ? argv[3] : NULL) != EOS_OK || eos_resnet_load(rt, argv[1], &model) != EOS_OK ||
        eos_dataset_load(argv[2], NULL, &data) != EOS_OK) {
        fprintf(stderr, "evaluate: %s\n", eos_last_error_message());
        goto done;
    }
    have_data = 1;
    if (eos_resnet_classes(model) != data.classes || eos_resnet_in_channels(model) != data.channels) {
        fprintf(stderr, "evaluate: the model has %d classes and %d channels, the dataset %d and %d\n",
                eos_resnet_classes(model), eos_resnet_in_channels(model), data.classes, data.channels);
        goto done;
    }
    pred = malloc((data.test.n ? data.test.n : 1) * sizeof *pred);
    if (!pred) goto done;
    if (eos_predict(model, &data, &data.test, NULL, 0, 256, pred, NULL) != EOS_OK ||
        eos_metrics_compute(data.classes, data.test.labels, pred, data.test.n, &met) != EOS_OK) {
        fprintf(stderr, "evaluate: %s\n", eos_last_error_message());
        goto done;
    }
    printf("device: %s\n", eos_runtime_device(rt)->name);
    printf("test images: %zu, classes: %d\n", data.test.n, data.classes);
    printf("ACC %.6f BAC %.6f\n", met.acc, met.bac);
    eos_metrics_free(&met);
    rc = 0;
done:
    free(pred);
    if (have_data) eos_dataset_free(&data);
    eos_resnet_free(model);
    eos_runtime_free(rt);
    return rc;
}
