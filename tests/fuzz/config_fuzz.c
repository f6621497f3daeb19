/*  config_fuzz: the INI config file parser (libinih through cds_config),
 *  with the agent's option table shape, then every typed getter. */
#include "cds_config.h"
#include "cds_err.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const cds_option_t options[] = {
    { "agent.state_dir", "state-dir", 0, "DIR", "/tmp", "" },
    { "agent.server", "server", 0, "URL", "tcp://127.0.0.1:7701", "" },
    { "agent.window", "window", 0, "N", "4", "" },
    { "agent.org_units", "org-unit", 0, "OU", NULL, "" },
    { "output.json", "json", 0, NULL, NULL, "" },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("config.ini", data, size);
    cds_config_t *cfg = cds_config_new(options, 5);
    char err[512];
    long v;
    const char **all = NULL;
    if (cds_config_load_file(cfg, path, err, sizeof err) == CDS_OK) {
        for (size_t i = 0; i < 5; i++)
            (void) cds_config_get(cfg, options[i].key);
        (void) cds_config_get_long(cfg, "agent.window", &v, err, sizeof err);
        (void) cds_config_get_bool(cfg, "output.json");
        (void) cds_config_get_all(cfg, "agent.org_units", &all);
    }
    cds_config_destroy(&cfg);
    return 0;
}
