/* Phase 1's settings: the defaults, the re-balancing rules (none, reweight, resample, drw)
 * and the "LOSS-RULE" variant names of the command line. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const char *k_rules[] = {"none", "reweight", "resample", "drw"};

eos_status eos_rule_parse(const char *name, eos_train_rule *out) {
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, k_rules[i])) {
            *out = (eos_train_rule)i;
            return EOS_OK;
        }
    EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "unknown rule '%s': expected none, reweight, resample or drw", name ? name : "");
}

const char *eos_rule_name(eos_train_rule r) { return (unsigned)r < 4 ? k_rules[r] : "?"; }

eos_status eos_train_variant_parse(const char *name, eos_loss_spec *loss, eos_train_rule *rule) {
    char buf[64];
    if (!name || strlen(name) >= sizeof buf)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "phase-1 variant '%s': expected LOSS or LOSS-RULE", name ? name : "");
    snprintf(buf, sizeof buf, "%s", name);
    char *dash = strchr(buf, '-');
    if (dash) *dash = 0;
    *rule = EOS_RULE_NONE;
    if (eos_loss_parse(buf, loss) != EOS_OK || (dash && eos_rule_parse(dash + 1, rule) != EOS_OK))
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL,
                 "phase-1 variant '%s': expected LOSS or LOSS-RULE with LOSS ce, focal, asl or ldam and RULE reweight, "
                 "resample or drw (for example ldam-drw)", name);
    return EOS_OK;
}

eos_train_config eos_train_defaults(void) {
    eos_train_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 200;
    c.batch = 128;
    c.lr = 0.1f;
    c.momentum = 0.9f;
    c.weight_decay = 2e-4f;
    c.eval_every = 1;
    c.beta = 0.9999;
    return c;
}
