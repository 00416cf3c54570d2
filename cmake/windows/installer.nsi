; The Windows installer (NSIS 3): the zip's per-plugin folder, installed for every user into
; C:\ProgramData\obs-studio\plugins\obs-virtual-background, with an uninstaller listed in Apps & features.
; Built by scripts/package-windows with Debian's makensis:
;   makensis -DVERSION=0.1.0 -DSTAGE=<stage folder> -DOUTFILE=<installer.exe> installer.nsi
; Silent: installer.exe /S (fails with exit code 2 when OBS is not installed). Uninstall: uninstall.exe /S.

Unicode true
!include "MUI2.nsh"
!include "LogicLib.nsh"

!define NAME "obs-virtual-background"
!define DISPLAY "OBS Virtual Background"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${NAME}"

Name "${DISPLAY} ${VERSION}"
OutFile "${OUTFILE}"
RequestExecutionLevel admin
; OBS 28 and later read plugins from here, for every user.
InstallDir "$COMMONPROGRAMDATA\obs-studio\plugins\${NAME}"
SetCompressor /SOLID lzma

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_LICENSE "${STAGE}/${NAME}/licenses/LICENSE.txt"
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  SetShellVarContext all
  SetRegView 64
  ; OBS's installer records its folder here; without OBS the plugin has nothing to load it.
  ReadRegStr $0 HKLM "Software\OBS Studio" ""
  ${If} $0 == ""
    MessageBox MB_ICONSTOP "OBS Studio is not installed. Install OBS Studio 30 or later first." /SD IDOK
    SetErrorLevel 2
    Quit
  ${EndIf}
FunctionEnd

Section "Install"
  SetShellVarContext all
  ; A previous version's files go first, so nothing stale stays beside the new ones.
  RMDir /r "$INSTDIR\bin"
  RMDir /r "$INSTDIR\data"
  SetOutPath "$INSTDIR"
  File /r "${STAGE}/${NAME}/*"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  SetRegView 64
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "${DISPLAY} (OBS plugin)"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "obs-virtual-background"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  SetShellVarContext all
  SetRegView 64
  RMDir /r "$INSTDIR\bin"
  RMDir /r "$INSTDIR\data"
  RMDir /r "$INSTDIR\licenses"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
SectionEnd
