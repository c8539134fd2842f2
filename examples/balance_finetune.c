/* Example: balance the classes of an embedding CSV (from `eos embed`) with EOS, train a fresh
 * linear head on the balanced rows and print its metrics on a test CSV: phases 2 and 3 of the
 * method as two library calls each. Built against the installed library.
 *     balance_finetune TRAIN_EMB.csv TEST_EMB.csv [DEVICE]
 * Seed 0 and the defaults throughout, so it prints what `eos resample` then `eos finetune`
 * (seed 0) write. */
#include <eos/eos.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s TRAIN_EMB.csv TEST_EMB.csv [DEVICE]\n", argv[0]);
        return 2;
    }
    eos_runtime_t rt = NULL;
    eos_embeddings train = {0}, test = {0}, balanced = {0};
    eos_resample_report rep = {0};
    eos_head head = {0};
    eos_metrics met;
    int32_t *pred = NULL;
    int rc = 1, classes = 0;
    if (eos_runtime_init(&rt, argc > 3 ? argv[3] : NULL) != EOS_OK || eos_embeddings_read_csv(argv[1], 0, &train) != EOS_OK)
        goto fail;
    for (size_t i = 0; i < train.n; i++)
        if (train.labels[i] + 1 > classes) classes = train.labels[i] + 1;
    if (eos_embeddings_read_csv(argv[2], classes, &test) != EOS_OK) goto fail;
    if (test.dim != train.dim) {
        fprintf(stderr, "balance_finetune: %s has %zu features, %s %zu\n", argv[2], test.dim, argv[1], train.dim);
        goto done;
    }

    /* phase 2: EOS with the paper's k (0 = the method's default, 10), seed 0 */
    if (eos_resample(rt, &train, classes, EOS_RESAMPLE_EOS, 0, 0, &balanced, &rep) != EOS_OK) goto fail;
    printf("EOS (k %d): %zu rows -> %zu (%zu new)\n", rep.k, train.n, balanced.n, rep.synthetic);

    /* phase 3: a fresh head (PyTorch's nn.Linear initialisation), 10 epochs of SGD */
    eos_finetune_config cfg = eos_finetune_defaults();
    float loss;
    if (eos_head_init(&head, classes, (int)balanced.dim, cfg.seed) != EOS_OK ||
        eos_finetune(rt, &head, &balanced, &cfg, &loss) != EOS_OK)
        goto fail;
    pred = malloc((test.n ? test.n : 1) * sizeof *pred);
    if (!pred) goto done;
    eos_head_predict(&head, &test, pred);
    if (eos_metrics_compute(classes, test.labels, pred, test.n, &met) != EOS_OK) goto fail;
    printf("head %d x %d, final loss %.4f\n", classes, head.dim, loss);
    printf("ACC %.6f BAC %.6f GM %.6f FM %.6f\n", met.acc, met.bac, met.gm, met.fm);
    eos_metrics_free(&met);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "balance_finetune: %s\n", eos_last_error_message());
done:
    free(pred);
    eos_head_free(&head);
    eos_resample_report_free(&rep);
    eos_embeddings_free(&balanced);
    eos_embeddings_free(&test);
    eos_embeddings_free(&train);
    eos_runtime_free(rt);
    return rc;
}
