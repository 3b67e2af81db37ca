; Client DMP: NSIS 3 installer (secondary to the MSI), per machine, French UI, x86-64 stubs.
; Built by installer/build_packages.py:
;   makensis -INPUTCHARSET UTF8 -DVERSION=<v> -DVIVERSION=<a.b.c.0> -DEDITEUR=<vendor> -DFICHIERS=<folder> -DSORTIE=<exe>
; FICHIERS holds fichiers-installation.nsh / fichiers-desinstallation.nsh, generated from the bundle's files, so the
; uninstaller removes exactly what was installed (never RMDir /r on a folder a /D= could have pointed anywhere).
;
; Silent:   dmp-client-<v>-setup.exe /S [/HOTE=https://...] [/LPS_NOM=...] ... [/D=C:\Programmes\dmp-client]
;           (/D= last, unquoted). Each policy switch given with a value is written as a locked policy value under
;           HKLM\Software\Policies\DmpClient\Verrouilles (names: app.config.layers.KEYS; table in POLITIQUES below).
; Uninstall: desinstaller.exe [/S] [/PURGE]: the users' data (%LOCALAPPDATA%\dmp-client) is kept unless /PURGE.

Unicode true
Target amd64-unicode
ManifestDPIAware true
SetCompressor /SOLID lzma

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

!ifndef VERSION | VIVERSION | EDITEUR | FICHIERS | SORTIE
  !error "build with installer/build_packages.py (VERSION, VIVERSION, EDITEUR, FICHIERS, SORTIE)"
!endif

!define PRODUIT "Client DMP"
!define CLE_DESINSTALLATION "Software\Microsoft\Windows\CurrentVersion\Uninstall\DmpClient"
!define CLE_POLITIQUE "Software\Policies\DmpClient\Verrouilles"

Name "${PRODUIT}"
OutFile "${SORTIE}"
InstallDir "$PROGRAMFILES64\dmp-client"
RequestExecutionLevel admin
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VIVERSION}"
VIFileVersion "${VIVERSION}"
VIAddVersionKey /LANG=1036 "ProductName" "${PRODUIT}"
VIAddVersionKey /LANG=1036 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1036 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1036 "CompanyName" "${EDITEUR}"
VIAddVersionKey /LANG=1036 "FileDescription" "Installation du ${PRODUIT}"
VIAddVersionKey /LANG=1036 "LegalCopyright" "${EDITEUR}"

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "French"

; Switch → locked policy key (app.config.layers.KEYS); the MSI's public properties have the same names.
!macro POLITIQUES ACTION
  !insertmacro ${ACTION} HOTE DMP_HOST_URL
  !insertmacro ${ACTION} PROFIL_HOTE DMP_PROFIL_HOTE
  !insertmacro ${ACTION} MODE_AUTH DMP_MODE_AUTH
  !insertmacro ${ACTION} MODULE_PKCS11 DMP_PKCS11_MODULE
  !insertmacro ${ACTION} PROXY DMP_PROXY
  !insertmacro ${ACTION} LPS_NOM DMP_LPS_NOM
  !insertmacro ${ACTION} LPS_HOMOLOGATION DMP_LPS_HOMOLOGATION
  !insertmacro ${ACTION} LPS_OID DMP_LPS_OID
!macroend

; Only a switch given with a value writes (as the MSI: an unset property writes nothing); the uninstall key
; remembers which values this installer wrote, so the uninstaller never removes a value a GPO set.
!macro ECRIRE_POLITIQUE OPTION CLE
  ClearErrors
  ${GetOptions} $R9 "/${OPTION}=" $R0
  ${IfNot} ${Errors}
  ${AndIf} $R0 != ""
    WriteRegStr HKLM "${CLE_POLITIQUE}" "${CLE}" $R0
    WriteRegStr HKLM "${CLE_DESINSTALLATION}" "Politique_${CLE}" "1"
    DetailPrint "Politique verrouillée : ${CLE} = $R0"
  ${EndIf}
!macroend

!macro EFFACER_POLITIQUE OPTION CLE
  ReadRegStr $R0 HKLM "${CLE_DESINSTALLATION}" "Politique_${CLE}"
  ${If} $R0 == "1"
    DeleteRegValue HKLM "${CLE_POLITIQUE}" "${CLE}"
  ${EndIf}
!macroend

Function .onInit
  SetShellVarContext all
  ${IfNot} ${RunningX64}
    MessageBox MB_OK|MB_ICONSTOP "Le ${PRODUIT} nécessite une version 64 bits de Windows." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Section "Client DMP" SecClient
  SectionIn RO
  ; An earlier version: its uninstaller removes its files (and the policy values it wrote) first.
  ReadRegStr $R1 HKLM "${CLE_DESINSTALLATION}" "InstallLocation"
  ${If} $R1 != ""
  ${AndIf} ${FileExists} "$R1\desinstaller.exe"
    DetailPrint "Désinstallation de la version précédente ($R1)"
    ExecWait '"$R1\desinstaller.exe" /S _?=$R1'
    Delete "$R1\desinstaller.exe"
    RMDir "$R1"
  ${EndIf}

  !include "${FICHIERS}/fichiers-installation.nsh"
  SetOutPath "$INSTDIR"
  WriteUninstaller "$INSTDIR\desinstaller.exe"
  CreateShortcut "$SMPROGRAMS\${PRODUIT}.lnk" "$INSTDIR\dmp-gui.exe" "" "$INSTDIR\dmp-gui.exe" 0

  WriteRegStr HKLM "${CLE_DESINSTALLATION}" "DisplayName" "${PRODUIT}"
  WriteRegStr HKLM "${CLE_DESINSTALLATION}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${CLE_DESINSTALLATION}" "Publisher" "${EDITEUR}"
  WriteRegStr HKLM "${CLE_DESINSTALLATION}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${CLE_DESINSTALLATION}" "DisplayIcon" "$INSTDIR\dmp-gui.exe"
  WriteRegStr HKLM "${CLE_DESINSTALLATION}" "UninstallString" '"$INSTDIR\desinstaller.exe"'
  WriteRegStr HKLM "${CLE_DESINSTALLATION}" "QuietUninstallString" '"$INSTDIR\desinstaller.exe" /S'
  WriteRegDWORD HKLM "${CLE_DESINSTALLATION}" "NoModify" 1
  WriteRegDWORD HKLM "${CLE_DESINSTALLATION}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKLM "${CLE_DESINSTALLATION}" "EstimatedSize" $0

  ${GetParameters} $R9
  !insertmacro POLITIQUES ECRIRE_POLITIQUE
SectionEnd

Function un.onInit
  SetShellVarContext all
  SetRegView 64
FunctionEnd

Section "Uninstall"
  !include "${FICHIERS}/fichiers-desinstallation.nsh"
  Delete "$INSTDIR\desinstaller.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUIT}.lnk"

  !insertmacro POLITIQUES EFFACER_POLITIQUE
  DeleteRegKey /ifempty HKLM "${CLE_POLITIQUE}"
  DeleteRegKey /ifempty HKLM "Software\Policies\DmpClient"
  DeleteRegKey HKLM "${CLE_DESINSTALLATION}"

  ; The user's data (encrypted base, upload queue, cache, journal, settings) stays unless /PURGE is given.
  ${GetParameters} $R9
  ClearErrors
  ${GetOptions} $R9 "/PURGE" $R0
  SetShellVarContext current
  ${If} ${Errors}
    DetailPrint "Données de l'utilisateur conservées (file d'envoi, cache, journal) : $LOCALAPPDATA\dmp-client"
  ${Else}
    MessageBox MB_YESNO|MB_ICONEXCLAMATION|MB_DEFBUTTON2 "Supprimer aussi les données locales du ${PRODUIT} ($LOCALAPPDATA\dmp-client) ?$\n$\nLes documents encore en attente d'envoi, le cache et le journal seront définitivement perdus." /SD IDYES IDYES purger
    DetailPrint "Données de l'utilisateur conservées : $LOCALAPPDATA\dmp-client"
    Goto fin
    purger:
    RMDir /r "$LOCALAPPDATA\dmp-client"
    DetailPrint "Données de l'utilisateur supprimées : $LOCALAPPDATA\dmp-client"
    fin:
  ${EndIf}
  SetShellVarContext all
SectionEnd
