; cdsync-agent-setup.exe: the Windows installer of the commune agent
; (issue 18 item 2), built by `make windows-installer` with Debian's NSIS:
;   makensis -INPUTCHARSET UTF8 -DVERSION=V -DEXE=cdsync-agent.exe
;            -DTOP=checkout -DOUTFILE=setup.exe deploy/windows/cdsync-agent.nsi
;
; What it does (docs/AGENT.md "Installing on a commune PC (Windows)"):
;  - the program into %ProgramFiles%\cdsync (the directory page, /D=);
;  - the shipped lists (catalog, rules, org units, data sets) into
;    %ProgramData%\cdsync, replaced on upgrade;
;  - agent.ini there from the endpoint page (or /ENDPOINT= /SERVERKEY=
;    /COMMUNE= when silent), only when there is none: an upgrade keeps the
;    officer's config and identity;
;  - `cdsync-agent keygen` (identity in state\agent.key) when there is no
;    identity, else `pubid`; the public identity goes on the last pages and
;    into agent-public-id.txt, to send to the district;
;  - the key's access list: SYSTEM and Administrators only (the agent
;    refuses a key Users can read: common/win32/cds_acl.c);
;  - the service: `cdsync-agent service install --config FILE` and
;    `service start` (the interface in docs/WINDOWS.md);
;  - an uninstaller (Add/Remove Programs) that stops and removes the
;    service and the program and keeps %ProgramData%\cdsync unless "remove
;    data" is ticked (silent: /REMOVEDATA).
; Every command it runs and its exit code go to logs\setup.log.
; Silent and refused (bad or missing answers): the message on stderr and in
; the log, exit code 2. The checks mirror the agent's own: the endpoint as
; common/cds_check.c (tcp_problem, connect side), the key as
; common/cds_id.c (cds_pubid_parse).
Unicode true
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel admin
ManifestDPIAware true

!include MUI2.nsh
!include nsDialogs.nsh
!include LogicLib.nsh
!include FileFunc.nsh
!include WordFunc.nsh
!include x64.nsh

!ifndef VERSION
!define VERSION 0.0.0
!endif
!define PRODUCT "cdsync agent"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\cdsync-agent"

Name "${PRODUCT} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\cdsync"
BrandingText "cdsync ${VERSION}"
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=0 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileDescription" "cdsync agent setup"
VIAddVersionKey /LANG=0 "LegalCopyright" "cdsync developers"

Var DataDir       ; %ProgramData%\cdsync
Var Endpoint
Var ServerKey
Var Commune
Var PubId
Var PubId2        ; the same on two lines, for the finish page
Var HaveConfig    ; 1: agent.ini already there (upgrade): not asked again
Var Log           ; handle of logs\setup.log
Var EpField
Var KeyField
Var OuField
Var IdField

!define MUI_ABORTWARNING
!define MUI_LANGDLL_ALLLANGUAGES
!define MUI_FINISHPAGE_NOAUTOCLOSE
!define MUI_UNFINISHPAGE_NOAUTOCLOSE

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_LICENSE "${TOP}\deploy\windows\LICENCE.txt"
!insertmacro MUI_PAGE_DIRECTORY
Page custom ServerPage ServerLeave
!insertmacro MUI_PAGE_INSTFILES
Page custom IdentityPage
!define MUI_FINISHPAGE_TITLE "$(FinishTitle)"
!define MUI_FINISHPAGE_TEXT "$(FinishText)"
!define MUI_FINISHPAGE_TEXT_LARGE
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

; The first language is the default: Vietnamese; English on the first
; dialog's list.
!insertmacro MUI_LANGUAGE "Vietnamese"
!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_RESERVEFILE_LANGDLL

!include "${TOP}\deploy\windows\cdsync-agent-lang.nsh"

; ---------------------------------------------------------------- checks
; Each leaves "" on the stack when fine, else what is wrong (English: the
; silent path prints it; the page shows the translated sentence).

; CharsIn STR SET: 1 if every character of STR is in SET (case-sensitive).
Function CharsIn
  Exch $R1 ; set
  Exch
  Exch $R0 ; string
  Push $R2
  Push $R3
  Push $R4
  Push $R5
  StrCpy $R2 0
  loop:
    StrCpy $R3 $R0 1 $R2
    StrCmp $R3 "" yes
    StrCpy $R4 0
    inner:
      StrCpy $R5 $R1 1 $R4
      StrCmp $R5 "" no
      StrCmpS $R5 $R3 next
      IntOp $R4 $R4 + 1
      Goto inner
    next:
    IntOp $R2 $R2 + 1
    Goto loop
  yes:
    StrCpy $R0 1
    Goto done
  no:
    StrCpy $R0 0
  done:
  Pop $R5
  Pop $R4
  Pop $R3
  Pop $R2
  Pop $R1
  Exch $R0
FunctionEnd

!macro CharsIn STR SET OUT
  Push "${STR}"
  Push "${SET}"
  Call CharsIn
  Pop ${OUT}
!macroend

!define DIGITS "0123456789"
!define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

; CheckEndpoint: tcp://HOST:PORT, PORT 1..65535, HOST a name or address
; ([IPv6] in brackets).
Function CheckEndpoint
  Exch $R0
  Push $R1
  Push $R2
  Push $R3
  StrCpy $R1 $R0 6
  StrCmpS $R1 "tcp://" 0 notcp
  StrCpy $R0 $R0 "" 6
  ; the last ':' splits host and port
  StrLen $R1 $R0
  findcolon:
    IntOp $R1 $R1 - 1
    IntCmp $R1 0 nocolon nocolon
    StrCpy $R2 $R0 1 $R1
    StrCmp $R2 ":" 0 findcolon
  StrCpy $R2 $R0 "" $R1
  StrCpy $R2 $R2 "" 1          ; port
  StrCpy $R0 $R0 $R1           ; host
  StrLen $R3 $R2
  IntCmp $R3 0 badport
  IntCmp $R3 5 0 0 badport
  !insertmacro CharsIn $R2 "${DIGITS}" $R3
  StrCmp $R3 1 0 badport
  IntCmp $R2 1 0 badport
  IntCmp $R2 65535 0 0 badport
  StrCpy $R1 $R0 1
  StrCmp $R1 "[" 0 name
  StrLen $R1 $R0
  IntOp $R1 $R1 - 1
  StrCpy $R3 $R0 1 $R1
  StrCmp $R3 "]" 0 badhost
  StrCpy $R0 $R0 -1 1
  !insertmacro CharsIn $R0 "0123456789abcdefABCDEF:." $R3
  StrCmp $R0 "" badhost
  StrCmp $R3 1 ok badhost
  name:
  StrLen $R1 $R0
  IntCmp $R1 253 0 0 badhost
  !insertmacro CharsIn $R0 "${DIGITS}abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-" $R3
  StrCmp $R3 1 ok badhost
  notcp:
    StrCpy $R0 "expected tcp://HOST:PORT"
    Goto done
  nocolon:
    StrCpy $R0 "expected tcp://HOST:PORT"
    Goto done
  badport:
    StrCpy $R0 "port must be 1..65535"
    Goto done
  badhost:
    StrCpy $R0 "host is not an address or name"
    Goto done
  ok:
    StrCpy $R0 ""
  done:
  Pop $R3
  Pop $R2
  Pop $R1
  Exch $R0
FunctionEnd

; CheckKey: "cds1:" and 86 characters of unpadded URL-safe base64 of 64
; bytes (its last character carries 4 zero bits: A, Q, g or w).
Function CheckKey
  Exch $R0
  Push $R1
  StrCpy $R1 $R0 5
  StrCmpS $R1 "cds1:" 0 bad
  StrCpy $R0 $R0 "" 5
  StrLen $R1 $R0
  IntCmp $R1 86 0 bad bad
  !insertmacro CharsIn $R0 "${B64URL}" $R1
  StrCmp $R1 1 0 bad
  StrCpy $R1 $R0 1 85
  !insertmacro CharsIn $R1 "AQgw" $R1
  StrCmp $R1 1 0 bad
  StrCpy $R0 ""
  Goto done
  bad:
    StrCpy $R0 "not a cds1:... public identity (the aggregator's, 91 characters)"
  done:
  Pop $R1
  Exch $R0
FunctionEnd

; CheckCommune: the org unit codes this PC reports for, comma-separated
; (agent.org_units): letters, digits, '_', '-', '.'.
Function CheckCommune
  Exch $R0
  Push $R1
  StrCmp $R0 "" bad
  !insertmacro CharsIn $R0 "${DIGITS}abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-.," $R1
  StrCmp $R1 1 0 bad
  StrCpy $R1 $R0 1
  StrCmp $R1 "," bad
  StrCpy $R1 $R0 "" -1
  StrCmp $R1 "," bad
  StrCpy $R0 ""
  Goto done
  bad:
    StrCpy $R0 "expected the commune's code (org units, comma-separated: 27901)"
  done:
  Pop $R1
  Exch $R0
FunctionEnd

; StdErr MSG: a silent install's refusal, for the console that started it.
Function StdErr
  Exch $R0
  Push $R1
  Push $R2
  System::Call 'kernel32::AttachConsole(i -1)'
  System::Call 'kernel32::GetStdHandle(i -12) p .R1'
  StrCpy $R0 "cdsync-agent-setup: $R0$\r$\n"
  StrLen $R2 $R0
  System::Call 'kernel32::WriteFile(p R1, m R0, i R2, *i .r0, p 0)'
  Pop $R2
  Pop $R1
  Pop $R0
FunctionEnd

; Refuse WHAT VALUE WHY: exit code 2 and nothing installed.
!macro Refuse WHAT VALUE WHY
  Push '${WHAT}: "${VALUE}": ${WHY}'
  Call StdErr
  SetErrorLevel 2
  Quit
!macroend

; --------------------------------------------------------------- log
!macro LogLine TEXT
  FileWriteUTF16LE $Log "${TEXT}$\r$\n"
  DetailPrint "${TEXT}"
!macroend

; RunLog CMDLINE: run it hidden, log its output and exit code; the exit
; code in $0, the output in $1.
Function RunLog
  Exch $R0
  !insertmacro LogLine "> $R0"
  nsExec::ExecToStack '$R0'
  Pop $0
  Pop $1
  !insertmacro LogLine "$1"
  !insertmacro LogLine "exit code $0"
  Pop $R0
FunctionEnd

!macro Run CMDLINE
  Push `${CMDLINE}`
  Call RunLog
!macroend

; TrimNl VAR: drop trailing CR/LF.
!macro TrimNl VAR
  !define _L ${__LINE__}
  trim_${_L}:
    StrCpy $R9 ${VAR} 1 -1
    StrCmp $R9 "$\n" +2
    StrCmp $R9 "$\r" 0 done_${_L}
    StrCpy ${VAR} ${VAR} -1
    Goto trim_${_L}
  done_${_L}:
  !undef _L
!macroend

;GetArg NAME: the value of " NAME" on the command line, up to the next
; " /" or its end, or between quotes ("/NAME=a b" or /NAME="a b"); "" when
; absent. Not FileFunc's GetOptions: it cuts a value at its first '/', and
; an endpoint is tcp://...
Function GetArg
  Exch $R1 ; name
  Push $R0
  Push $R2
  Push $R3
  Push $R4
  ${GetParameters} $R0
  StrCpy $R0 " $R0"
  ${WordReplace} $R0 ' "/' ' /' "+" $R0   ; "/NAME=a b": the quote ends it
  StrCpy $R1 " $R1"
  StrLen $R3 $R1
  StrCpy $R2 0
  find:
    StrCpy $R4 $R0 $R3 $R2
    StrCmp $R4 "" none
    StrCmp $R4 $R1 found
    IntOp $R2 $R2 + 1
    Goto find
  found:
  IntOp $R2 $R2 + $R3
  StrCpy $R0 $R0 "" $R2         ; from the value on
  StrCpy $R4 $R0 1
  StrCmp $R4 '"' 0 +2
    StrCpy $R0 $R0 "" 1
  StrCpy $R2 0
  cut:
    StrCpy $R4 $R0 1 $R2
    StrCmp $R4 "" value
    StrCmp $R4 '"' value
    StrCpy $R4 $R0 2 $R2
    StrCmp $R4 " /" value
    IntOp $R2 $R2 + 1
    Goto cut
  value:
  StrCpy $R1 $R0 $R2
  Goto done
  none:
  StrCpy $R1 ""
  done:
  Pop $R4
  Pop $R3
  Pop $R2
  Pop $R0
  Exch $R1
FunctionEnd

!macro GetArg NAME OUT
  Push "${NAME}"
  Call GetArg
  Pop ${OUT}
!macroend

; ---------------------------------------------------------------- init
Function .onInit
  ; Vietnamese whatever the Windows language (NSIS would take English on
  ; an English Windows); the first dialog offers English.
  StrCpy $LANGUAGE ${LANG_VIETNAMESE}
  SetShellVarContext all
  SetRegView 64
  StrCpy $DataDir "$APPDATA\cdsync"
  StrCpy $HaveConfig 0
  IfFileExists "$DataDir\agent.ini" 0 +2
    StrCpy $HaveConfig 1
  !insertmacro GetArg "/ENDPOINT=" $Endpoint
  !insertmacro GetArg "/SERVERKEY=" $ServerKey
  !insertmacro GetArg "/COMMUNE=" $Commune
  IfSilent 0 gui
  ; Silent: an upgrade keeps agent.ini (answers not needed, not used); a
  ; first install needs all three, checked before anything is written.
  StrCmp $HaveConfig 1 done
  Push $Endpoint
  Call CheckEndpoint
  Pop $R1
  StrCmp $R1 "" endpoint_ok
  !insertmacro Refuse "/ENDPOINT" $Endpoint $R1
  endpoint_ok:
  Push $ServerKey
  Call CheckKey
  Pop $R1
  StrCmp $R1 "" serverkey_ok
  !insertmacro Refuse "/SERVERKEY" $ServerKey $R1
  serverkey_ok:
  Push $Commune
  Call CheckCommune
  Pop $R1
  StrCmp $R1 "" commune_ok
  !insertmacro Refuse "/COMMUNE" $Commune $R1
  commune_ok:
  Goto done
  gui:
  !insertmacro MUI_LANGDLL_DISPLAY
  done:
FunctionEnd

; ---------------------------------------------------------------- pages
Function ServerPage
  StrCmp $HaveConfig 1 0 +2
    Abort                     ; upgrade: the config is kept, not asked
  !insertmacro MUI_HEADER_TEXT "$(SrvTitle)" "$(SrvSub)"
  nsDialogs::Create 1018
  Pop $R0
  ${NSD_CreateLabel} 0 0 100% 10u "$(SrvEndpoint)"
  Pop $R0
  ${NSD_CreateText} 0 11u 100% 12u "$Endpoint"
  Pop $EpField
  ${NSD_CreateLabel} 0 29u 100% 10u "$(SrvKey)"
  Pop $R0
  ${NSD_CreateText} 0 40u 100% 12u "$ServerKey"
  Pop $KeyField
  ${NSD_CreateLabel} 0 58u 100% 10u "$(SrvCommune)"
  Pop $R0
  ${NSD_CreateText} 0 69u 40% 12u "$Commune"
  Pop $OuField
  ${NSD_CreateLabel} 0 90u 100% 40u "$(SrvHelp)"
  Pop $R0
  ${NSD_SetFocus} $EpField
  nsDialogs::Show
FunctionEnd

Function ServerLeave
  ${NSD_GetText} $EpField $Endpoint
  ${NSD_GetText} $KeyField $ServerKey
  ${NSD_GetText} $OuField $Commune
  Push $Endpoint
  Call CheckEndpoint
  Pop $R1
  StrCmp $R1 "" +3
    MessageBox MB_ICONEXCLAMATION "$(BadEndpoint)$\r$\n$\r$\n$Endpoint$\r$\n($R1)"
    Abort
  Push $ServerKey
  Call CheckKey
  Pop $R1
  StrCmp $R1 "" +3
    MessageBox MB_ICONEXCLAMATION "$(BadKey)$\r$\n$\r$\n$ServerKey"
    Abort
  Push $Commune
  Call CheckCommune
  Pop $R1
  StrCmp $R1 "" +3
    MessageBox MB_ICONEXCLAMATION "$(BadCommune)$\r$\n$\r$\n$Commune"
    Abort
FunctionEnd

Function IdentityPage
  !insertmacro MUI_HEADER_TEXT "$(IdTitle)" "$(IdSub)"
  nsDialogs::Create 1018
  Pop $R0
  ${NSD_CreateLabel} 0 0 100% 30u "$(IdText)"
  Pop $R0
  ; on two lines (the edit control would break at a '-' and hide the
  ; rest); Sao chép / Copy copies the one line
  nsDialogs::CreateControl EDIT ${DEFAULT_STYLES}|${WS_TABSTOP}|${ES_MULTILINE}|${ES_READONLY} \
      ${WS_EX_CLIENTEDGE} 0 32u 100% 26u "$PubId2"
  Pop $IdField
  ${NSD_CreateButton} 0 64u 45% 14u "$(IdCopy)"
  Pop $R0
  ${NSD_OnClick} $R0 CopyId
  ${NSD_CreateButton} 55% 64u 45% 14u "$(IdSave)"
  Pop $R0
  ${NSD_OnClick} $R0 SaveId
  ${NSD_CreateLabel} 0 86u 100% 30u "$(IdFile) $DataDir\agent-public-id.txt"
  Pop $R0
  nsDialogs::Show
FunctionEnd

; The identity on the clipboard, as CF_UNICODETEXT.
Function CopyId
  Pop $R0
  StrLen $R1 $PubId
  IntOp $R1 $R1 + 1
  IntOp $R1 $R1 * 2
  System::Call 'user32::OpenClipboard(p $HWNDPARENT) i .R2'
  StrCmp $R2 0 fail
  System::Call 'user32::EmptyClipboard()'
  System::Call 'kernel32::GlobalAlloc(i 0x2, p R1) p .R3'
  System::Call 'kernel32::GlobalLock(p R3) p .R4'
  System::Call 'kernel32::lstrcpyW(p R4, w "$PubId")'
  System::Call 'kernel32::GlobalUnlock(p R3)'
  System::Call 'user32::SetClipboardData(i 13, p R3)'
  System::Call 'user32::CloseClipboard()'
  MessageBox MB_ICONINFORMATION "$(IdCopied)"
  Return
  fail:
  MessageBox MB_ICONEXCLAMATION "$(IdCopyFail)"
FunctionEnd

Function SaveId
  Pop $R0
  nsDialogs::SelectFileDialog save "$DESKTOP\cdsync-public-id.txt" "Text (*.txt)|*.txt"
  Pop $R0
  StrCmp $R0 "" done
  ClearErrors
  FileOpen $R1 $R0 w
  IfErrors fail
  FileWrite $R1 "$PubId$\r$\n"
  FileClose $R1
  MessageBox MB_ICONINFORMATION "$(IdSaved) $R0"
  Goto done
  fail:
  MessageBox MB_ICONEXCLAMATION "$(IdSaveFail) $R0"
  done:
FunctionEnd

; ---------------------------------------------------------------- install
Section "cdsync agent" SecMain
  SectionIn RO
  SetShellVarContext all
  SetRegView 64
  CreateDirectory "$DataDir\logs"
  CreateDirectory "$DataDir\state"
  FileOpen $Log "$DataDir\logs\setup.log" a
  FileSeek $Log 0 END $R0
  StrCmp $R0 0 0 +2
    FileWriteWord $Log 0xFEFF ; UTF-16LE, with its byte-order mark
  !insertmacro LogLine "cdsync-agent-setup ${VERSION}: $INSTDIR"
  ; An upgrade: the running service holds the program open.
  IfFileExists "$INSTDIR\cdsync-agent.exe" 0 fresh
    !insertmacro Run '"$INSTDIR\cdsync-agent.exe" service stop'
  fresh:
  SetOutPath "$INSTDIR"
  File "/oname=cdsync-agent.exe" "${EXE}"
  File "/oname=LICENCE.txt" "${TOP}\deploy\windows\LICENCE.txt"
  ; The shipped lists: the agent's defaults look beside the catalog.
  SetOutPath "$DataDir"
  File "${TOP}\deploy\catalog.csv"
  File "${TOP}\deploy\rules.csv"
  File "${TOP}\deploy\orgunits.csv"
  File "${TOP}\deploy\datasets.csv"
  Call WriteConfig
  Call MakeIdentity
  ; The service, as docs/WINDOWS.md gives it.
  !insertmacro Run '"$INSTDIR\cdsync-agent.exe" service install --config "$DataDir\agent.ini"'
  StrCmp $0 0 0 nosvc
  !insertmacro Run '"$INSTDIR\cdsync-agent.exe" service start'
  nosvc:
  WriteUninstaller "$INSTDIR\uninstall.exe"
  Call Register
  FileClose $Log
SectionEnd

; agent.ini from the answers, only when there is none. Forward slashes:
; the agent's paths are UTF-8 with '/', as on Linux.
Function WriteConfig
  StrCmp $HaveConfig 1 0 write
  !insertmacro LogLine "kept $DataDir\agent.ini (not replaced on upgrade)"
  Return
  write:
  ${WordReplace} "$DataDir" "\" "/" "+" $R2
  FileOpen $R1 "$DataDir\agent.ini" w
  FileWrite $R1 "; cdsync-agent configuration, written by cdsync-agent-setup ${VERSION}.$\r$\n"
  FileWrite $R1 "; Every key is also a flag; see docs/AGENT.md and deploy/agent.ini.$\r$\n"
  FileWrite $R1 "; Kept on upgrade. Edit, then: cdsync-agent service stop / start.$\r$\n"
  FileWrite $R1 "[agent]$\r$\n"
  FileWrite $R1 "state_dir = $R2/state$\r$\n"
  FileWrite $R1 "catalog = $R2/catalog.csv$\r$\n"
  FileWrite $R1 "org_units = $Commune$\r$\n"
  FileWrite $R1 "server = $Endpoint$\r$\n"
  FileWrite $R1 "server_key = $ServerKey$\r$\n"
  FileWrite $R1 "log_level = info$\r$\n"
  FileClose $R1
  !insertmacro LogLine "wrote $DataDir\agent.ini: server = $Endpoint, org_units = $Commune"
FunctionEnd

; The identity: keygen when there is none (its stdout is the public
; identity), else pubid; then owner-only: SYSTEM and Administrators
; (well-known SIDs, whatever the Windows language).
Function MakeIdentity
  StrCpy $R3 "$DataDir\state\agent.key"
  IfFileExists $R3 old
  !insertmacro Run '"$INSTDIR\cdsync-agent.exe" --config "$DataDir\agent.ini" keygen --label "$Commune"'
  Goto got
  old:
  !insertmacro LogLine "kept $R3 (an identity is never replaced)"
  !insertmacro Run '"$INSTDIR\cdsync-agent.exe" --config "$DataDir\agent.ini" pubid'
  got:
  StrCpy $PubId $1
  !insertmacro TrimNl $PubId
  StrCmp $0 0 +3
    MessageBox MB_ICONSTOP "$(IdFailed)$\r$\n$PubId" /SD IDOK
    StrCpy $PubId ""
  StrCpy $R1 $PubId 46
  StrCpy $R2 $PubId "" 46
  StrCpy $PubId2 "$R1$\r$\n$R2"
  FileOpen $R1 "$DataDir\agent-public-id.txt" w
  FileWrite $R1 "$PubId$\r$\n"
  FileClose $R1
  !insertmacro Run 'icacls "$R3" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F'
FunctionEnd

Function Register
  ${GetSize} "$INSTDIR" "/S=0K" $R0 $R1 $R2
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "cdsync"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\cdsync-agent.exe"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" $R0
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
FunctionEnd

; ---------------------------------------------------------------- uninstall
Section "un.$(UnProgram)" SecUnProgram
  SectionIn RO
  SetShellVarContext all
  SetRegView 64
  nsExec::ExecToLog '"$INSTDIR\cdsync-agent.exe" service stop'
  Pop $0
  nsExec::ExecToLog '"$INSTDIR\cdsync-agent.exe" service uninstall'
  Pop $0
  DetailPrint "service uninstall: exit code $0"
  Delete "$INSTDIR\cdsync-agent.exe"
  Delete "$INSTDIR\LICENCE.txt"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINST_KEY}"
SectionEnd

Section /o "un.$(UnData)" SecUnData
  SetShellVarContext all
  RMDir /r "$APPDATA\cdsync"
SectionEnd

!insertmacro MUI_UNFUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecUnProgram} "$(UnProgramDesc)"
  !insertmacro MUI_DESCRIPTION_TEXT ${SecUnData} "$(UnDataDesc)"
!insertmacro MUI_UNFUNCTION_DESCRIPTION_END

Function un.onInit
  SetShellVarContext all
  SetRegView 64
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/REMOVEDATA" $R1
  IfErrors +2
    SectionSetFlags ${SecUnData} ${SF_SELECTED}
  !insertmacro MUI_UNGETLANGUAGE
FunctionEnd
