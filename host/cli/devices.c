/* `eos devices`: one row per OpenCL device, the default marked with '*'. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

void usage_devices(FILE *out) {
    fprintf(out,
            "usage: eos devices\n\n"
            "Lists every OpenCL platform and device: index, type, device name, platform, compute units,\n"
            "global memory, max work-group size, OpenCL C version and driver version. The row marked '*'\n"
            "is the default device (the first GPU, else the first CPU; EOS_DEVICE overrides it).\n"
            "With EOS_GPU_PATHS=1 a last line says that every device takes the GPU-shaped paths.\n"
            "Any computing command takes --device with an index, cpu, gpu or part of a name.\n\n"
            "example:\n  eos devices\n  eos check --device 1\n");
}

static void cl_c_version(const char *s, char *out, size_t n) {
    const char *p = strstr(s, "OpenCL C ");
    p = p ? p + 9 : s;
    size_t len = strcspn(p, " ");
    snprintf(out, n, "%.*s", (int)len, p);
}

int cmd_devices(int argc, char **argv) {
    static const cli_command self = {"devices", "", NULL, usage_devices};
    if (argc > 1)
        return cli_usage_error(&self, argv[1][0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", argv[1]);
    eos_device_info *devs;
    int n, def = -1;
    if (eos_devices_list(&devs, &n) != EOS_OK) return cli_fail("listing OpenCL devices");
    const char *env = getenv("EOS_DEVICE");
    if (eos_device_select(devs, n, env, &def) != EOS_OK) def = -1;  /* a bad EOS_DEVICE: no mark */

    int wname = 6, wplat = 8;
    for (int i = 0; i < n; i++) {
        if ((int)strlen(devs[i].name) > wname) wname = (int)strlen(devs[i].name);
        if ((int)strlen(devs[i].platform_name) > wplat) wplat = (int)strlen(devs[i].platform_name);
    }
    printf("  %-3s %-5s  %-*s  %-*s  %4s  %10s  %6s  %-8s  %s\n", "#", "type", wname, "device", wplat,
           "platform", "CUs", "global mem", "max WG", "OpenCL C", "driver");
    for (int i = 0; i < n; i++) {
        const eos_device_info *d = &devs[i];
        char ver[32];
        cl_c_version(d->opencl_c_version, ver, sizeof ver);
        printf("%c %-3d %-5s  %-*s  %-*s  %4u  %6.1f GiB  %6zu  %-8s  %s\n", i == def ? '*' : ' ', d->index,
               eos_device_type_str(d->type), wname, d->name, wplat, d->platform_name, d->compute_units,
               d->global_mem_bytes / (1024.0 * 1024.0 * 1024.0), d->max_work_group_size, ver, d->driver_version);
    }
    const char *gp = getenv("EOS_GPU_PATHS");
    if (gp && !strcmp(gp, "1"))  /* GPUs take them anyway; the switch makes every device do so */
        printf("GPU-shaped paths: on (EOS_GPU_PATHS=1)\n");
    if (env && env[0] && def < 0)
        fprintf(stderr, "eos devices: warning: EOS_DEVICE='%s' matches no device\n", env);
    eos_devices_free(devs);
    return 0;
}
