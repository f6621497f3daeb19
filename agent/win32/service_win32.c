/*  service on Windows: see ../service.h for the contract.
 *
 *  The Service Control Manager's API (advapi32), the wide-character calls
 *  throughout so that a Vietnamese path in the program's or the config's
 *  location survives (UTF-8 <-> UTF-16 here, at the edge). `service run`
 *  hands the main thread to StartServiceCtrlDispatcher; the SCM calls
 *  svc_main on a thread of its own, which opens the rotating log
 *  (cds_log_to_file: LOG_MAX bytes, LOG_KEEP older files), reports
 *  RUNNING and runs the daemon (`run`) until it returns; the SCM's STOP
 *  and SHUTDOWN controls arrive on the dispatcher thread, which reports
 *  STOP_PENDING with a wait hint and calls cds_signal_request_stop(): the
 *  daemon's loop wakes on its self-pipe, finishes the turn (the batch in
 *  flight is acked or left pending in the outbox), logs event=stopped and
 *  closes SQLite; then svc_main reports STOPPED with the exit code
 *  (ERROR_SERVICE_SPECIFIC_ERROR and the agent's exit code when not 0).
 *  The console's logoff and shutdown events are not stops for a service
 *  (cds_signal_service_mode): the SCM sends its own. */
#include "service.h"

#include "cds_compat.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_signal.h"
#include "cds_util.h"

#include <stdio.h>
#include <wchar.h>

#define SVC_NAME L"cdsync-agent"
#define SVC_DISPLAY L"cdsync agent"
#define SVC_DESC L"cdsync: sends the commune's values to the district " \
                 L"aggregator (data in ProgramData\\cdsync)"
#define LOG_MAX (10ull << 20)          /* bytes per log file */
#define LOG_KEEP 4                     /* agent.log.1 .. agent.log.4 */
#define STOP_HINT_MS 30000             /* ack_timeout_ms's default, x3 */
#define START_WAIT_MS 30000
#define STOP_WAIT_MS 60000
#define RESTART_MS 60000               /* SCM restart after a failure */

static cds_cli_t *run_cli;
static cds_cli_fn *run_fn;
static int run_code;
static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS svc_status;
static CRITICAL_SECTION status_lock;

/* UTF-16 copy of UTF-8 s (malloc'd), NULL on failure. */
static wchar_t *
wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w && MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) != n) {
        free(w);
        return NULL;
    }
    return w;
}

/* The system's text for error e (UTF-8: the manifest's code page). */
static const char *
win_error(DWORD e, char *buf, size_t len)
{
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM
                             | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e, 0,
                             buf, (DWORD) len, NULL);
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n'
                     || buf[n - 1] == '.'))
        buf[--n] = '\0';
    if (n == 0)
        snprintf(buf, len, "error %lu", (unsigned long) e);
    return buf;
}

/* The SCM refused what: administrator rights, or its own error. */
static int
scm_fail(const char *action, DWORD e)
{
    char msg[300];
    if (e == ERROR_ACCESS_DENIED)
        return cds_cli_fail(CDS_EXIT_CONFIG, "service %s: administrator "
                            "rights needed (the Service Control Manager "
                            "refused: access denied); open a Command Prompt "
                            "with \"Run as administrator\" and run it again",
                            action);
    if (e == ERROR_SERVICE_DOES_NOT_EXIST)
        return cds_cli_fail(CDS_EXIT_CONFIG, "service %s: the cdsync-agent "
                            "service is not installed (`cdsync-agent "
                            "service install`)", action);
    return cds_cli_fail(CDS_EXIT_RUNTIME, "service %s: %s", action,
                        win_error(e, msg, sizeof msg));
}

/* The service opened with access, or NULL (message printed, *code). */
static SC_HANDLE
svc_open(const char *action, DWORD access, int *code)
{
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    SC_HANDLE svc = scm ? OpenServiceW(scm, SVC_NAME, access) : NULL;
    DWORD e = GetLastError();
    if (scm)
        CloseServiceHandle(scm);
    if (!svc)
        *code = scm_fail(action, e);
    return svc;
}

/* Poll the service's state until want (0) or, bounded by ms, not (-1). */
static int
svc_wait(SC_HANDLE svc, DWORD want, DWORD ms, SERVICE_STATUS_PROCESS *st)
{
    DWORD got, t0 = GetTickCount();
    for (;;) {
        if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *) st,
                                  sizeof *st, &got))
            return -1;
        if (st->dwCurrentState == want)
            return 0;
        if ((want == SERVICE_RUNNING && st->dwCurrentState == SERVICE_STOPPED)
            || GetTickCount() - t0 > ms)
            return -1;
        Sleep(200);                    /* the SCM has no change event */
    }
}

static const char *
state_name(DWORD s)
{
    switch (s) {
    case SERVICE_STOPPED: return "STOPPED";
    case SERVICE_START_PENDING: return "START_PENDING";
    case SERVICE_STOP_PENDING: return "STOP_PENDING";
    case SERVICE_RUNNING: return "RUNNING";
    case SERVICE_PAUSED: return "PAUSED";
    default: return "CHANGING";
    }
}

/* CDS_DATADIR/logs, %ProgramData%\cdsync\logs (created), in dir: the
 * same root as the default config and state_dir (the build's, not the
 * environment's: Wine's services see ProgramData as C:\users\Public). */
static int
log_dir(char *dir, size_t len)
{
    snprintf(dir, len, "%s/logs", CDS_DATADIR);
    return cds_mkdir_p(dir, 0700);
}

/* Description, and restart by the SCM after a failure (as systemd's
 * Restart=on-failure): also when the agent exits non-zero. */
static void
svc_configure(SC_HANDLE svc)
{
    SERVICE_DESCRIPTIONW d = {SVC_DESC};
    SC_ACTION act[3] = {{SC_ACTION_RESTART, RESTART_MS},
                        {SC_ACTION_RESTART, RESTART_MS},
                        {SC_ACTION_RESTART, RESTART_MS}};
    SERVICE_FAILURE_ACTIONSW fa = {86400, NULL, NULL, 3, act};
    SERVICE_FAILURE_ACTIONS_FLAG flag = {TRUE};
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &d);
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa);
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag);
}

/* The service's command line: "<exe>" service run --config "<full>". */
static int
svc_command(const char *conf, wchar_t *cmd, size_t len)
{
    wchar_t exe[MAX_PATH * 4], full[MAX_PATH * 4];
    wchar_t *wconf = wide(conf);
    DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH * 4);
    DWORD m = wconf ? GetFullPathNameW(wconf, MAX_PATH * 4, full, NULL) : 0;
    free(wconf);
    if (n == 0 || n >= MAX_PATH * 4 || m == 0 || m >= MAX_PATH * 4)
        return -1;
    int k = swprintf(cmd, len, L"\"%ls\" service run --config \"%ls\"", exe,
                     full);
    return k > 0 && (size_t) k < len ? 0 : -1;
}

static int
svc_install(cds_cli_t *cli)
{
    const char *conf = cds_config_path(cli->cfg);
    wchar_t cmd[MAX_PATH * 9];
    char dir[600];
    if (!conf)
        conf = cli->prog->default_config;
    if (svc_command(conf, cmd, sizeof cmd / sizeof cmd[0]) != 0)
        return cds_cli_fail(CDS_EXIT_CONFIG, "service install: %s: path "
                            "too long or not valid", conf);
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CREATE_SERVICE);
    if (!scm)
        return scm_fail("install", GetLastError());
    SC_HANDLE svc = CreateServiceW(scm, SVC_NAME, SVC_DISPLAY,
                                   SERVICE_ALL_ACCESS,
                                   SERVICE_WIN32_OWN_PROCESS,
                                   SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                                   cmd, NULL, NULL, NULL, NULL, NULL);
    DWORD e = GetLastError();
    CloseServiceHandle(scm);
    if (!svc && e == ERROR_SERVICE_EXISTS)
        return cds_cli_fail(CDS_EXIT_CONFIG, "service install: the "
                            "cdsync-agent service is already installed "
                            "(`cdsync-agent service uninstall` first to "
                            "change it); nothing changed");
    if (!svc)
        return scm_fail("install", e);
    svc_configure(svc);
    CloseServiceHandle(svc);
    log_dir(dir, sizeof dir);
    printf("installed service cdsync-agent (automatic start) with config "
           "%s; log %s/agent.log; `cdsync-agent service start` starts it "
           "now\n", conf, dir);
    if (access(conf, R_OK) != 0)
        fprintf(stderr, "%s: warning: %s does not exist yet: the service "
                "will not start without it\n", cli->prog->name, conf);
    return 0;
}

/* Stop (when running) and wait until STOPPED; 0, or the exit code. */
static int
svc_stop_wait(SC_HANDLE svc, const char *action)
{
    SERVICE_STATUS ss;
    SERVICE_STATUS_PROCESS st;
    if (!ControlService(svc, SERVICE_CONTROL_STOP, &ss)) {
        DWORD e = GetLastError();
        if (e != ERROR_SERVICE_NOT_ACTIVE)
            return scm_fail(action, e);
    }
    if (svc_wait(svc, SERVICE_STOPPED, STOP_WAIT_MS, &st) != 0)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "service %s: not stopped "
                            "within %d s (state %s); see its log",
                            action, STOP_WAIT_MS / 1000,
                            state_name(st.dwCurrentState));
    return 0;
}

static int
svc_uninstall(void)
{
    int code = 0;
    SC_HANDLE svc = svc_open("uninstall", SERVICE_STOP | DELETE
                             | SERVICE_QUERY_STATUS, &code);
    if (!svc)
        return code;
    code = svc_stop_wait(svc, "uninstall");
    if (!code && !DeleteService(svc))
        code = scm_fail("uninstall", GetLastError());
    CloseServiceHandle(svc);
    if (!code)
        printf("stopped and removed service cdsync-agent (its data and "
               "logs are kept)\n");
    return code;
}

static int
svc_start(void)
{
    int code = 0;
    SERVICE_STATUS_PROCESS st;
    SC_HANDLE svc = svc_open("start", SERVICE_START | SERVICE_QUERY_STATUS,
                             &code);
    if (!svc)
        return code;
    if (!StartServiceW(svc, 0, NULL)
        && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING)
        code = scm_fail("start", GetLastError());
    else if (svc_wait(svc, SERVICE_RUNNING, START_WAIT_MS, &st) != 0) {
        char dir[600];
        log_dir(dir, sizeof dir);
        code = cds_cli_fail(CDS_EXIT_RUNTIME, "service start: %s, exit code "
                            "%lu: see %s/agent.log",
                            st.dwCurrentState == SERVICE_STOPPED
                                ? "it stopped at once" : "not running in time",
                            (unsigned long) (st.dwServiceSpecificExitCode
                                             ? st.dwServiceSpecificExitCode
                                             : st.dwWin32ExitCode), dir);
    } else
        printf("service cdsync-agent: RUNNING (pid %lu)\n",
               (unsigned long) st.dwProcessId);
    CloseServiceHandle(svc);
    return code;
}

static int
svc_stop(void)
{
    int code = 0;
    SC_HANDLE svc = svc_open("stop", SERVICE_STOP | SERVICE_QUERY_STATUS,
                             &code);
    if (!svc)
        return code;
    code = svc_stop_wait(svc, "stop");
    CloseServiceHandle(svc);
    if (!code)
        printf("service cdsync-agent: STOPPED\n");
    return code;
}

static int
svc_state(void)
{
    int code = 0;
    DWORD got;
    SERVICE_STATUS_PROCESS st;
    SC_HANDLE svc = svc_open("status", SERVICE_QUERY_STATUS, &code);
    if (!svc)
        return code;
    if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *) &st,
                              sizeof st, &got))
        code = scm_fail("status", GetLastError());
    CloseServiceHandle(svc);
    if (code)
        return code;
    if (st.dwCurrentState == SERVICE_RUNNING)
        printf("service cdsync-agent: RUNNING (pid %lu)\n",
               (unsigned long) st.dwProcessId);
    else
        printf("service cdsync-agent: %s (last exit code %lu)\n",
               state_name(st.dwCurrentState),
               (unsigned long) (st.dwServiceSpecificExitCode
                                ? st.dwServiceSpecificExitCode
                                : st.dwWin32ExitCode));
    return st.dwCurrentState == SERVICE_RUNNING ? 0 : 1;
}

/* ---- service run: the SCM's side ------------------------------------- */

/* Report state to the SCM; code: the agent's exit code (STOPPED). */
static void
report(DWORD state, int code, DWORD hint)
{
    EnterCriticalSection(&status_lock);
    svc_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    svc_status.dwCurrentState = state;
    svc_status.dwControlsAccepted = state == SERVICE_RUNNING
        ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
    svc_status.dwWin32ExitCode = code ? ERROR_SERVICE_SPECIFIC_ERROR
                                      : NO_ERROR;
    svc_status.dwServiceSpecificExitCode = (DWORD) code;
    svc_status.dwWaitHint = hint;
    svc_status.dwCheckPoint = state == SERVICE_RUNNING
        || state == SERVICE_STOPPED ? 0 : svc_status.dwCheckPoint + 1;
    SetServiceStatus(status_handle, &svc_status);
    LeaveCriticalSection(&status_lock);
}

/* On the dispatcher thread: STOP and SHUTDOWN become the graceful stop. */
static DWORD WINAPI
on_control(DWORD control, DWORD type, void *data, void *ctx)
{
    (void) type;
    (void) data;
    (void) ctx;
    if (control == SERVICE_CONTROL_INTERROGATE)
        return NO_ERROR;
    if (control != SERVICE_CONTROL_STOP && control != SERVICE_CONTROL_SHUTDOWN)
        return ERROR_CALL_NOT_IMPLEMENTED;
    cds_log(CDS_LOG_INFO, "service_stop", "control=%s",
            control == SERVICE_CONTROL_STOP ? "stop" : "shutdown");
    report(SERVICE_STOP_PENDING, 0, STOP_HINT_MS);
    cds_signal_request_stop();
    return NO_ERROR;
}

/* The SCM starts a service in %SystemRoot%\system32: a relative path (or,
 * under Wine, a Unix one such as /tmp/x, on the current drive) in the
 * config is taken from the config file's directory instead. */
static void
svc_chdir(const char *conf)
{
    wchar_t *w = conf ? wide(conf) : NULL;
    wchar_t *slash = w ? wcsrchr(w, L'\\') : NULL;
    if (slash) {
        *slash = L'\0';
        if (!SetCurrentDirectoryW(w))
            cds_log(CDS_LOG_WARN, "service_chdir", "dir=%s failed=true",
                    cds_logq(conf));
    }
    free(w);
}

static void WINAPI
svc_main(DWORD argc, wchar_t **argv)
{
    char dir[600], path[640];
    (void) argc;
    (void) argv;
    status_handle = RegisterServiceCtrlHandlerExW(SVC_NAME, on_control, NULL);
    if (!status_handle)
        return;
    report(SERVICE_START_PENDING, 0, 10000);
    if (log_dir(dir, sizeof dir) != 0
        || snprintf(path, sizeof path, "%s/agent.log", dir) >= (int) sizeof path
        || cds_log_to_file(path, LOG_MAX, LOG_KEEP) != 0) {
        run_code = CDS_EXIT_RUNTIME;   /* nowhere to say why but the SCM */
        report(SERVICE_STOPPED, run_code, 0);
        return;
    }
    cds_signal_install();
    cds_signal_service_mode();
    svc_chdir(cds_config_path(run_cli->cfg));
    cds_log(CDS_LOG_INFO, "service_start", "config=%s pid=%lu",
            cds_logq(cds_config_path(run_cli->cfg)),
            (unsigned long) GetCurrentProcessId());
    report(SERVICE_RUNNING, 0, 0);
    run_cli->n_args = 0;               /* `run` takes no operand */
    run_code = run_fn(run_cli);
    /* A service has no console: the CRT's stderr has no descriptor there
     * (fileno -2, even reopened, under Wine), so the reason a command
     * failed with (cds_cli_fail) is logged here. */
    if (run_code)
        cds_log(CDS_LOG_ERROR, "service_failed", "exit=%d reason=%s",
                run_code, cds_logq(cds_cli_last_failure()));
    cds_log(CDS_LOG_INFO, "service_stopped", "exit=%d", run_code);
    report(SERVICE_STOPPED, run_code, 0);
}

static int
svc_run(cds_cli_t *cli, cds_cli_fn *run)
{
    SERVICE_TABLE_ENTRYW table[] = {{(wchar_t *) SVC_NAME, svc_main},
                                    {NULL, NULL}};
    run_cli = cli;
    run_fn = run;
    InitializeCriticalSection(&status_lock);
    if (StartServiceCtrlDispatcherW(table))
        return run_code;
    if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
        return cds_cli_fail(CDS_EXIT_USAGE, "service run: only the Service "
                            "Control Manager runs this (`cdsync-agent "
                            "service start`); in a console use "
                            "`cdsync-agent run`");
    return scm_fail("run", GetLastError());
}

int
agent_service(cds_cli_t *cli, cds_cli_fn *run)
{
    const char *a = cli->n_args == 1 ? cli->args[0] : "";
    if (strcmp(a, "install") == 0)
        return svc_install(cli);
    if (strcmp(a, "uninstall") == 0)
        return svc_uninstall();
    if (strcmp(a, "start") == 0)
        return svc_start();
    if (strcmp(a, "stop") == 0)
        return svc_stop();
    if (strcmp(a, "status") == 0)
        return svc_state();
    if (strcmp(a, "run") == 0)
        return svc_run(cli, run);
    return cds_cli_fail(CDS_EXIT_USAGE, "usage: service install [--config "
                        "FILE] | uninstall | start | stop | status | run");
}
