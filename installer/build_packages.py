"""Build the Windows packages of the client from its one-folder bundle, on Linux, and check them.

    python installer/build_packages.py [--bundle dist/dmp-client] [--sortie dist] [--factice]

- the MSI (``installer/dmp-client.wxs``) with Debian's ``wixl``: the bundle's file list is generated into a
  fragment (wixl has no ``heat``), then the conditions wixl cannot express are written with ``msibuild``;
- the NSIS installer (``installer/dmp-client.nsi``) with ``makensis`` (amd64-unicode stubs);
- optional Authenticode signatures with ``osslsigncode`` when ``DMP_SIGN_CERT`` and ``DMP_SIGN_KEY`` name a
  PEM certificate and key (``DMP_SIGN_TIMESTAMP``: a timestamp server's URL);
- checks: the MSI's Property, Component and Registry tables, the PE32+ header of the NSIS exe, the signatures.

Without a bundle (the frozen build comes from ``installer/dmp.spec`` on a Windows runner), or with
``--factice``, a small dummy payload is packaged instead, so the packaging itself can be checked from Linux.
Debian packages: wixl, msitools, nsis, osslsigncode (requirements/apt.txt).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WXS = HERE / "dmp-client.wxs"
NSI = HERE / "dmp-client.nsi"
UPGRADE_CODE = "{E1C8DC6A-6CEE-4CBE-8E0B-6116B9A5FE0F}"  # never change (dmp-client.wxs)
POLICY_KEY = r"Software\Policies\DmpClient\Verrouilles"
DEFAULT_MANUFACTURER = "Client DMP"

# Public MSI properties and NSIS switches (/HOTE=...) → the locked policy value each writes (KEYS).
# dmp-client.wxs and dmp-client.nsi spell the same table; tests/installer checks all three agree.
POLICY_PROPERTIES: Mapping[str, str] = {
    "HOTE": "DMP_HOST_URL",
    "PROFIL_HOTE": "DMP_PROFIL_HOTE",
    "MODE_AUTH": "DMP_MODE_AUTH",
    "MODULE_PKCS11": "DMP_PKCS11_MODULE",
    "PROXY": "DMP_PROXY",
    "LPS_NOM": "DMP_LPS_NOM",
    "LPS_HOMOLOGATION": "DMP_LPS_HOMOLOGATION",
    "LPS_OID": "DMP_LPS_OID",
}
TOOLS = ("wixl", "msibuild", "msiinfo", "makensis")


class PackagingError(Exception):
    """A tool failed or a built package does not pass its checks."""


@dataclass(frozen=True)
class Packages:
    msi: Path
    exe: Path
    version: str
    signed: bool


def app_version() -> str:
    text = (ROOT / "app" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if not match:
        raise PackagingError("app/__init__.py has no __version__")
    return match.group(1)


def msi_version(version: str) -> str:
    """The numeric part MSI and NSIS accept (major.minor.build ≤ 255.255.65535): "1.2.0rc1" → "1.2.0"."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if not match:
        raise PackagingError(f"version {version!r} has no numeric major.minor")
    major, minor, build = int(match[1]), int(match[2]), int(match[3] or 0)
    if major > 255 or minor > 255 or build > 65535:
        raise PackagingError(f"version {version!r} does not fit an MSI ProductVersion")
    return f"{major}.{minor}.{build}"


def missing_tools(signing: bool = False) -> list[str]:
    return [tool for tool in (*TOOLS, *(("osslsigncode",) if signing else ())) if shutil.which(tool) is None]


def run(command: Sequence[str | Path], cwd: Path | None = None) -> str:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, check=False)
    if result.returncode != 0:
        raise PackagingError(
            f"{Path(str(command[0])).name} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def dummy_bundle(folder: Path) -> Path:
    """A stand-in for the PyInstaller one-folder build: the two executables and an _internal folder."""
    bundle = folder / "dmp-client"
    (bundle / "_internal" / "PySide6" / "plugins").mkdir(parents=True, exist_ok=True)
    for name in ("dmp.exe", "dmp-gui.exe"):
        (bundle / name).write_bytes(b"MZ dummy payload: " + name.encode())
    (bundle / "_internal" / "python311.dll").write_bytes(b"dummy")
    (bundle / "_internal" / "base_library.zip").write_bytes(b"dummy")
    (bundle / "_internal" / "PySide6" / "plugins" / "qwindows.dll").write_bytes(b"dummy")
    return bundle


def windows_named(linux_bundle: Path, work: Path) -> Path:
    """The Linux one-folder build under Windows names (``dmp`` → ``dmp.exe``), hard-linked where the
    file system allows: on Linux this packages a real-size tree, so the packaging of every file of
    the bundle is checked; the packages for Windows are built on Windows from the Windows bundle."""
    staged = work / "dmp-client"
    for source in linux_bundle.rglob("*"):
        relative = source.relative_to(linux_bundle)
        if relative.parts and relative.parts[0] in ("dmp", "dmp-gui") and len(relative.parts) == 1:
            relative = relative.with_name(relative.name + ".exe")
        target = staged / relative
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return staged


def _id(prefix: str, relative: str) -> str:
    """A stable MSI identifier for a path in the bundle (≤ 72 characters, letters, digits, _ and .)."""
    return f"{prefix}_{hashlib.sha1(relative.encode()).hexdigest()[:24]}"


def bundle_fragment(bundle: Path) -> str:
    """The bundle's files as a wxs fragment: one component per file, directories as in the folder."""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">',
    ]
    lines += ["  <Fragment>", '    <DirectoryRef Id="INSTALLDIR">']
    components: list[str] = []

    def walk(folder: Path, depth: int) -> None:
        pad = "  " * depth
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            relative = path.relative_to(bundle).as_posix()
            if path.is_dir():
                lines.append(
                    f"{pad}<Directory Id={quoteattr(_id('d', relative))} Name={quoteattr(path.name)}>"
                )
                walk(path, depth + 1)
                lines.append(f"{pad}</Directory>")
            elif path.is_file():
                component = _id("c", relative)
                file_id = "DmpGuiExe" if relative == "dmp-gui.exe" else _id("f", relative)
                components.append(component)
                lines.append(f'{pad}<Component Id="{component}" Guid="*" Win64="yes">')
                source = quoteattr(relative)  # wixl takes no absolute Source: it runs in the bundle folder
                lines.append(f'{pad}  <File Id="{file_id}" Source={source} KeyPath="yes"/>')
                lines.append(f"{pad}</Component>")

    walk(bundle, 3)
    lines += ["    </DirectoryRef>", '    <ComponentGroup Id="Bundle">']
    lines += [f'      <ComponentRef Id="{c}"/>' for c in components]
    lines += ["    </ComponentGroup>", "  </Fragment>", "</Wix>", ""]
    return "\n".join(lines)


def nsis_file_lists(bundle: Path) -> tuple[str, str]:
    """NSIS includes: install every file of the bundle, uninstall exactly those (never RMDir /r $INSTDIR)."""
    install, uninstall = ['SetOutPath "$INSTDIR"'], []
    folders: list[str] = []
    for path in sorted(bundle.rglob("*")):
        relative = path.relative_to(bundle)
        windows = str(relative).replace("/", "\\")
        if path.is_dir():
            folders.append(windows)
        elif path.is_file():
            parent = str(relative.parent).replace("/", "\\")
            install.append(f'SetOutPath "$INSTDIR{"" if parent == "." else chr(92) + parent}"')
            install.append(f'File "{path}"')
            uninstall.append(f'Delete "$INSTDIR\\{windows}"')
    uninstall += [f'RMDir "$INSTDIR\\{folder}"' for folder in sorted(folders, key=len, reverse=True)]
    return "\n".join(install) + "\n", "\n".join(uninstall) + "\n"


def build_msi(bundle: Path, out: Path, version: str, manufacturer: str, work: Path) -> Path:
    fragment = work / "bundle.wxs"
    fragment.write_text(bundle_fragment(bundle), encoding="utf-8")
    msi = out / f"dmp-client-{version}.msi"
    defines = {"ProductVersion": msi_version(version), "BundleDir": ".", "Manufacturer": manufacturer}
    command: list[str | Path] = ["wixl", "-a", "x64", "-o", msi.resolve()]
    for name, value in {**defines, "Toolset": "wixl"}.items():
        command += ["-D", f"{name}={value}"]
    run([*command, WXS, fragment], cwd=bundle)
    # wixl ignores Component/Condition and Property/@Secure (candle reads them from the wxs): same rows here.
    queries = [
        f"UPDATE `Component` SET `Condition` = '{prop}' WHERE `Component` = 'Politique_{prop}'"
        for prop in POLICY_PROPERTIES
    ]
    secure = table(msi, "Property").get("SecureCustomProperties", "")
    merged = ";".join(sorted({*POLICY_PROPERTIES, *filter(None, secure.split(";"))}))
    queries.append(f"UPDATE `Property` SET `Value` = '{merged}' WHERE `Property` = 'SecureCustomProperties'")
    for query in queries:
        run(["msibuild", msi, "-q", query])
    # wixl writes the summary's language as 1033 whatever Package/@Languages says: French (1036), rest kept.
    summary = summary_info(msi)
    run(
        [
            "msibuild",
            msi,
            "-s",
            summary["Subject"],
            summary["Author"],
            "x64;1036",
            summary["Revision number (UUID)"],
        ]
    )
    return msi


def summary_info(msi: Path) -> dict[str, str]:
    lines = run(["msiinfo", "suminfo", msi]).splitlines()
    return {name: value for name, _, value in (line.partition(": ") for line in lines)}


def build_exe(bundle: Path, out: Path, version: str, manufacturer: str, work: Path) -> Path:
    install, uninstall = nsis_file_lists(bundle)
    (work / "fichiers-installation.nsh").write_text(install, encoding="utf-8")
    (work / "fichiers-desinstallation.nsh").write_text(uninstall, encoding="utf-8")
    exe = out / f"dmp-client-{version}-setup.exe"
    defines = {
        "VERSION": version,
        "VIVERSION": msi_version(version) + ".0",
        "EDITEUR": manufacturer,
        "FICHIERS": str(work),
        "SORTIE": str(exe),
    }
    run(["makensis", "-V2", "-INPUTCHARSET", "UTF8", *(f"-D{k}={v}" for k, v in defines.items()), NSI])
    return exe


def table(msi: Path, name: str) -> dict[str, str]:
    """An MSI table's rows: first column → second column (Property: name → value)."""
    rows = run(["msiinfo", "export", msi, name]).splitlines()[3:]  # header, types, table name
    return {
        cells[0]: cells[1] if len(cells) > 1 else "" for cells in (row.split("\t") for row in rows if row)
    }


def table_rows(msi: Path, name: str) -> list[list[str]]:
    return [row.split("\t") for row in run(["msiinfo", "export", msi, name]).splitlines()[3:] if row]


def policy_rows(msi: Path) -> dict[str, str]:
    """The MSI's locked-policy registry rows: value name → the property it is formatted from ("[HOTE]")."""
    rows = {}
    for _row, root, key, name, value, _component in table_rows(msi, "Registry"):
        if root == "2" and key == POLICY_KEY:
            rows[name] = value.strip("[]")
    return rows


def check_msi(msi: Path, version: str) -> None:
    properties = table(msi, "Property")
    problems = []
    expected = {"UpgradeCode": UPGRADE_CODE, "ProductVersion": msi_version(version), "ALLUSERS": "1"}
    expected["ProductLanguage"] = "1036"
    problems += [
        f"Property {k} = {properties.get(k)!r}, not {v!r}"
        for k, v in expected.items()
        if properties.get(k) != v
    ]
    secure = set(properties.get("SecureCustomProperties", "").split(";"))
    problems += [
        f"public property {p} not in SecureCustomProperties" for p in POLICY_PROPERTIES if p not in secure
    ]
    rows = policy_rows(msi)
    if rows != {key: prop for prop, key in POLICY_PROPERTIES.items()}:
        problems.append(f"policy registry rows {rows} do not match {dict(POLICY_PROPERTIES)}")
    components = {row[0]: row for row in table_rows(msi, "Component")}
    for prop in POLICY_PROPERTIES:
        row = components.get(f"Politique_{prop}")
        if row is None or row[4] != prop:
            problems.append(f"component Politique_{prop} is not conditioned on {prop}")
    problems += [f"component {c} is not 64-bit" for c, row in components.items() if not int(row[3]) & 256]
    template = summary_info(msi).get("Template")
    if template != "x64;1036":
        problems.append(f"summary Template {template!r}, not 'x64;1036'")
    if problems:
        raise PackagingError(f"{msi.name}:\n  " + "\n  ".join(problems))


def check_pe32plus(exe: Path) -> None:
    """'MZ', then at e_lfanew the PE signature, machine 0x8664 (x86-64), PE32+ optional header (0x20b)."""
    data = exe.read_bytes()[:4096]
    if data[:2] != b"MZ":
        raise PackagingError(f"{exe.name}: no MZ header")
    offset = int.from_bytes(data[0x3C:0x40], "little")
    if data[offset : offset + 4] != b"PE\0\0":
        raise PackagingError(f"{exe.name}: no PE signature at {offset:#x}")
    machine = int.from_bytes(data[offset + 4 : offset + 6], "little")
    magic = int.from_bytes(data[offset + 24 : offset + 26], "little")
    if machine != 0x8664 or magic != 0x20B:
        raise PackagingError(
            f"{exe.name}: machine {machine:#x}, optional header {magic:#x} (x86-64 PE32+ expected)"
        )


def sign(path: Path, cert: Path, key: Path, timestamp: str | None = None) -> None:
    """Authenticode-sign ``path`` in place (SHA-256), then verify the signature against ``cert``."""
    signed = path.with_name(path.name + ".signe")
    command: list[str | Path] = ["osslsigncode", "sign", "-certs", cert, "-key", key, "-h", "sha256"]
    command += ["-n", "Client DMP", "-in", path, "-out", signed]
    if timestamp:
        command += ["-ts", timestamp]
    run(command)
    signed.replace(path)
    verify(path, cert)


def verify(path: Path, ca_file: Path) -> None:
    output = run(["osslsigncode", "verify", "-CAfile", ca_file, "-in", path])
    if "Signature verification: ok" not in output:
        raise PackagingError(f"{path.name}: signature not verified:\n{output}")


def build(
    bundle: Path | None,
    out: Path,
    *,
    version: str | None = None,
    manufacturer: str = DEFAULT_MANUFACTURER,
    environ: Mapping[str, str] = os.environ,
) -> Packages:
    """Build and check both packages into ``out``; a dummy payload when ``bundle`` is None."""
    version = version or app_version()
    cert, key = environ.get("DMP_SIGN_CERT"), environ.get("DMP_SIGN_KEY")
    missing = missing_tools(signing=bool(cert and key))
    if missing:
        raise PackagingError(
            f"missing tools: {', '.join(missing)} (apt-get install wixl msitools nsis osslsigncode)"
        )
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dmp-paquets-") as temporary:
        work = Path(temporary)
        bundle = (bundle or dummy_bundle(work)).resolve()
        if not (bundle / "dmp.exe").is_file() and (bundle / "dmp").is_file():
            bundle = windows_named(bundle, work)
        for name in ("dmp.exe", "dmp-gui.exe"):
            if not (bundle / name).is_file():
                raise PackagingError(
                    f"{bundle} has no {name}: not a Windows one-folder build (use --factice)"
                )
        msi = build_msi(bundle, out, version, manufacturer, work)
        exe = build_exe(bundle, out, version, manufacturer, work)
    check_msi(msi, version)
    check_pe32plus(exe)
    if cert and key:
        for package in (msi, exe):
            sign(package, Path(cert), Path(key), environ.get("DMP_SIGN_TIMESTAMP"))
    return Packages(msi, exe, version, bool(cert and key))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Construit et vérifie le MSI et l'installateur NSIS du client DMP."
    )
    parser.add_argument(
        "--bundle", type=Path, default=ROOT / "dist" / "dmp-client", help="dossier PyInstaller"
    )
    parser.add_argument("--sortie", type=Path, default=ROOT / "dist", help="dossier des paquets")
    parser.add_argument("--factice", action="store_true", help="empaqueter une charge factice (contrôle)")
    parser.add_argument("--editeur", default=DEFAULT_MANUFACTURER, help="éditeur affiché (Manufacturer)")
    args = parser.parse_args(argv)
    bundle: Path | None = args.bundle
    if args.factice or not args.bundle.is_dir():
        if not args.factice:
            print(
                f"{args.bundle} absent : charge factice empaquetée (contrôle de l'empaquetage).",
                file=sys.stderr,
            )
        bundle = None
    try:
        packages = build(bundle, args.sortie, manufacturer=args.editeur)
    except PackagingError as error:
        print(f"Échec : {error}", file=sys.stderr)
        return 1
    state = "signés et vérifiés" if packages.signed else "non signés"
    print(f"{packages.msi}\n{packages.exe}\nPaquets {packages.version} vérifiés ({state}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
