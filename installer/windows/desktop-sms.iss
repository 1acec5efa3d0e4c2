; Inno Setup 6 script for the Windows installer of Desktop SMS.
;
; Build the bundle first (pyinstaller --noconfirm --clean build.spec), then from the repository:
;   iscc /DAppVersion=0.1.0 installer\windows\desktop-sms.iss
; Writes dist\installer\DesktopSMS-<version>-setup.exe. Paths are relative to this file.
;
; The installer copies the one-folder bundle only: the database, settings and logs live in the
; user's data folder and the Twilio Auth Token in Windows Credential Manager, so uninstalling
; or upgrading never touches them.

#define AppName "Desktop SMS"
#define AppExe "desktop-sms.exe"
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
; AppId identifies the product for upgrades and uninstall: never change it.
AppId={{6AE4FE3F-FDA3-4348-B4BE-84116FE3AD5F}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Desktop SMS
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-machine by default; a person without admin rights may install for themselves only.
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist\installer
OutputBaseFilename=DesktopSMS-{#AppVersion}-setup
SetupIconFile=..\..\resources\icon.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; Scheduled texts are sent by the running application: ask to close it before replacing files.
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\Desktop SMS\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade replaces the bundle's libraries wholesale; stale files of an older build must go.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
