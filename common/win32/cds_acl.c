/*  cds_acl: the identity file's "owner only" on Windows (see cds_compat.h).
 *
 *  On Linux the agent refuses a key whose mode lets group or others read
 *  it. The Windows equivalent is the file's DACL: an allow entry that
 *  grants reading to anyone but the file's owner, SYSTEM or the
 *  Administrators (who can take any file anyway) is refused, the message
 *  naming that account and the icacls command that removes the inherited
 *  entries. A NULL DACL (everyone may do anything) is refused too. keygen
 *  writes the key with a protected DACL that allows its owner only
 *  (cds_win32_key_protect), so a new key passes.
 *
 *  Under Wine (the tests here) the DACL set is not what is read back: Wine
 *  keeps a file's security descriptor only where the Unix file system
 *  stores its extended attribute, and otherwise reports a default one that
 *  lets Everyone read. There the check is skipped (the Unix mode of the
 *  file is what protects it): the refusal is exercised on Windows only. */
#include "cds_compat.h"

#include <aclapi.h>
#include <sddl.h>

#define READS (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL | MAXIMUM_ALLOWED)

static bool
trusted(PSID sid, PSID owner)
{
    if (owner && EqualSid(sid, owner))
        return true;
    return IsWellKnownSid(sid, WinLocalSystemSid)
           || IsWellKnownSid(sid, WinBuiltinAdministratorsSid)
           || IsWellKnownSid(sid, WinCreatorOwnerSid);
}

static void
name_of(PSID sid, char *out, size_t len)
{
    char name[128], dom[128];
    DWORD nl = sizeof name, dl = sizeof dom;
    SID_NAME_USE use;
    if (LookupAccountSidA(NULL, sid, name, &nl, dom, &dl, &use))
        snprintf(out, len, "%s%s%s", dom, *dom ? "\\" : "", name);
    else
        snprintf(out, len, "an unnamed account");
}

static bool
under_wine(void)
{
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version");
}

int
cds_win32_key_private(const char *path, char *msg, size_t len)
{
    if (under_wine())
        return 0;
    PSID owner = NULL;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    char who[260] = "";
    if (GetNamedSecurityInfoA(path, SE_FILE_OBJECT,
                              OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                              &owner, NULL, &dacl, NULL, &sd) != ERROR_SUCCESS) {
        snprintf(msg, len, "%s: cannot read its permissions (ACL)", path);
        return -1;
    }
    if (!dacl)
        snprintf(who, sizeof who, "Everyone (no access list)");
    for (DWORD i = 0; dacl && !*who && i < dacl->AceCount; i++) {
        ACE_HEADER *h;
        if (!GetAce(dacl, i, (void **) &h) || h->AceType != ACCESS_ALLOWED_ACE_TYPE)
            continue;
        ACCESS_ALLOWED_ACE *a = (ACCESS_ALLOWED_ACE *) h;
        if ((a->Mask & READS) && !trusted((PSID) &a->SidStart, owner))
            name_of((PSID) &a->SidStart, who, sizeof who);
    }
    LocalFree(sd);
    if (!*who)
        return 0;
    snprintf(msg, len, "%s is readable by %s, not only by its owner: anyone "
             "who reads it can sign as this agent; run: icacls \"%s\" "
             "/inheritance:r /grant:r \"%%USERNAME%%:F\"", path, who, path);
    return -1;
}

/* Give path a protected DACL allowing only its owner (full control). */
int
cds_win32_key_protect(const char *path)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = NULL;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(
            "D:P(A;;FA;;;OW)", SDDL_REVISION_1, &sd, NULL))
        return -1;
    int rc = GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted)
                     && SetNamedSecurityInfoA((char *) path, SE_FILE_OBJECT,
                                              DACL_SECURITY_INFORMATION
                                                  | PROTECTED_DACL_SECURITY_INFORMATION,
                                              NULL, NULL, dacl, NULL) == ERROR_SUCCESS
                 ? 0 : -1;
    LocalFree(sd);
    return rc;
}
