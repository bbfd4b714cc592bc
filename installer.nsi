; SpaceSync Windows installer (NSIS 3, Modern UI 2) over the frozen one-folder build.
;
; Built by packaging/build.py (`make package`), which reads everything below from
; pyproject.toml and passes it as defines:
;   makensis -WX -DAPP_NAME=SpaceSync -DAPP_VERSION=0.1.0 -DVI_VERSION=0.1.0.0
;            -DPUBLISHER="SpaceSync developers" -DDESCRIPTION="..."
;            -DDIST_DIR=dist/SpaceSync -DOUTFILE=dist/SpaceSync-0.1.0-setup.exe
;            -DGUI_EXE=spacesync-gui.exe -DCLI_EXE=spacesync.exe
;            -DAPP_ICON=resources/spacesync.ico installer.nsi
;
; Per-user install (no administrator rights) into %LOCALAPPDATA%\Programs\SpaceSync, a
; Start-menu shortcut, an optional desktop shortcut, optional start at sign-in (the same
; HKCU Run value the app's own setting writes), and an uninstaller that closes a running
; SpaceSync and keeps the user's library (%LOCALAPPDATA%\SpaceSync) unless asked.

Unicode true
ManifestDPIAware true

!macro REQUIRE NAME
  !ifndef ${NAME}
    !error "define ${NAME} is missing: build with packaging/build.py (make package)"
  !endif
!macroend
!insertmacro REQUIRE APP_NAME
!insertmacro REQUIRE APP_VERSION
!insertmacro REQUIRE VI_VERSION
!insertmacro REQUIRE PUBLISHER
!insertmacro REQUIRE DIST_DIR
!insertmacro REQUIRE OUTFILE
!insertmacro REQUIRE GUI_EXE
!insertmacro REQUIRE CLI_EXE
!insertmacro REQUIRE APP_ICON
!ifndef DESCRIPTION
  !define DESCRIPTION "${APP_NAME} folder sync"
!endif
!ifndef COMPRESSOR
  !define COMPRESSOR "/SOLID lzma"
!endif

!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_NAME}"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define UNINSTALLER "uninstall.exe"
; Where the app keeps its library, settings and logs (platformdirs user_data_dir).
!define USER_DATA "$LOCALAPPDATA\${APP_NAME}"

Name "${APP_NAME}"
OutFile "${OUTFILE}"
SetCompressor ${COMPRESSOR}
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${APP_NAME}"
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
BrandingText "${APP_NAME} ${APP_VERSION}"

VIProductVersion "${VI_VERSION}"
VIFileVersion "${VI_VERSION}"
VIAddVersionKey /LANG=1033 "ProductName" "${APP_NAME}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${APP_VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${APP_VERSION}"
VIAddVersionKey /LANG=1033 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=1033 "LegalCopyright" "${PUBLISHER}"
VIAddVersionKey /LANG=1033 "FileDescription" "${APP_NAME} ${APP_VERSION} setup"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "FileFunc.nsh"

!define MUI_ICON "${APP_ICON}"
!define MUI_UNICON "${APP_ICON}"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC

!define MUI_WELCOMEPAGE_TEXT "This will install ${APP_NAME} ${APP_VERSION} for you alone \
(no administrator rights needed).$\r$\n$\r$\n${DESCRIPTION}$\r$\n$\r$\nIf ${APP_NAME} is \
running, setup closes it first.$\r$\n$\r$\nClick Next to continue."
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\${GUI_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP_NAME} now"
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!define MUI_COMPONENTSPAGE_TEXT_TOP "${APP_NAME} itself is always removed. Your library \
(sync settings, index, history and logs in ${USER_DATA}) is kept unless you tick it below. \
Your synced folders and their kept versions are never touched."
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

; Close a running SpaceSync (the tray app, and a `spacesync daemon` started from this
; folder) so its files can be replaced or removed. First politely (WM_CLOSE), then, after
; a few seconds, for good: the engine writes through temp files, so a stop is safe.
!macro CLOSE_RUNNING_APP UN
Function ${UN}CloseRunningApp
  Push $0
  Push $1
  Push $2
  nsExec::ExecToStack '"$SYSDIR\taskkill.exe" /IM "${GUI_EXE}"'
  Pop $0
  Pop $1
  ${If} $0 == 0
    DetailPrint "Closing ${APP_NAME}..."
    StrCpy $2 0
    ${Do}
      Sleep 500
      IntOp $2 $2 + 1
      ; find.exe exits 0 while the process is still listed
      nsExec::ExecToStack '"$SYSDIR\cmd.exe" /c "$SYSDIR\tasklist.exe" /NH /FI "IMAGENAME eq ${GUI_EXE}" | "$SYSDIR\find.exe" /I "${GUI_EXE}"'
      Pop $0
      Pop $1
      ${If} $0 != 0
      ${OrIf} $2 >= 10
        ${Break}
      ${EndIf}
    ${Loop}
  ${EndIf}
  nsExec::ExecToStack '"$SYSDIR\taskkill.exe" /F /IM "${GUI_EXE}"'
  Pop $0
  Pop $1
  nsExec::ExecToStack '"$SYSDIR\taskkill.exe" /F /IM "${CLI_EXE}"'
  Pop $0
  Pop $1
  Sleep 300
  Pop $2
  Pop $1
  Pop $0
FunctionEnd
!macroend
!insertmacro CLOSE_RUNNING_APP ""
!insertmacro CLOSE_RUNNING_APP "un."

Section "${APP_NAME} (required)" SecApp
  SectionIn RO
  Call CloseRunningApp
  SetOutPath "$INSTDIR"
  ; An upgrade replaces the whole runtime: no stale libraries from an older version.
  RMDir /r "$INSTDIR\_internal"
  File /r "${DIST_DIR}/*"
  WriteUninstaller "$INSTDIR\${UNINSTALLER}"

  CreateShortcut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${GUI_EXE}" "" "$INSTDIR\${GUI_EXE}" 0

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${APP_VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$\"$INSTDIR\${GUI_EXE}$\",0"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" "$\"$INSTDIR\${UNINSTALLER}$\""
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" "$\"$INSTDIR\${UNINSTALLER}$\" /S"
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" $0
SectionEnd

Section /o "Desktop shortcut" SecDesktop
  CreateShortcut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${GUI_EXE}" "" "$INSTDIR\${GUI_EXE}" 0
SectionEnd

Section "Start ${APP_NAME} when I sign in" SecAutostart
  ; The value the app's "Start at login" setting reads and writes.
  WriteRegStr HKCU "${RUN_KEY}" "${APP_NAME}" "$\"$INSTDIR\${GUI_EXE}$\" --minimized"
SectionEnd

Section "un.${APP_NAME}" SecUnApp
  SectionIn RO
  Call un.CloseRunningApp
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  Delete "$DESKTOP\${APP_NAME}.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "${APP_NAME}"
  ; Only what setup put there: never a recursive delete of $INSTDIR itself, in case
  ; someone installed into a folder that holds other things.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${GUI_EXE}"
  Delete "$INSTDIR\${CLI_EXE}"
  Delete "$INSTDIR\${UNINSTALLER}"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINST_KEY}"
SectionEnd

Section /o "un.Remove my settings and index" SecUnData
  ; The library: database, settings.json, window layout, logs. Synced folders (and the
  ; versions kept inside them) are not here and are never removed.
  RMDir /r "${USER_DATA}"
SectionEnd
