"""Java (best effort): the dependencies `pom.xml` or a Gradle build names, where a sources
jar of that version sits in the local Maven repository (`~/.m2/repository`) or Gradle's
cache. A sources jar is unpacked (its `.java` files only) under `Options.unpack_dir` when the
package is first indexed. Without a sources jar a dependency is declared, not readable.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from .base import Environment, Options, Package, read_text, stamp, walk_files

ECOSYSTEM = "maven"
LANGUAGE = "java"
BUILD_FILES = ("pom.xml", "build.gradle", "build.gradle.kts")
MAX_UNPACKED_BYTES = 64 << 20
_POM_DEP = re.compile(
    r"<dependency>\s*(?:(?!</dependency>).)*?<groupId>\s*([\w.\-]+)\s*</groupId>\s*"
    r"<artifactId>\s*([\w.\-]+)\s*</artifactId>\s*(?:<version>\s*([^<\s]+)\s*</version>)?",
    re.S,
)
_GRADLE_DEP = re.compile(r"""['"]([\w.\-]+):([\w.\-]+):([\w.\-]+)['"]""")


class JavaSource:
    ecosystem = ECOSYSTEM
    language = LANGUAGE

    def discover(self, scope: Path, options: Options) -> Environment | None:
        present = [b for b in BUILD_FILES if (scope / b).is_file()]
        if not present:
            return None
        coords: dict[str, str] = {}
        for b in present:
            coords |= {k: v for k, v in declared(read_text(scope / b) or "").items() if k not in coords}
        packages: list[Package] = []
        for coord, version in coords.items():
            jar = _sources_jar(coord, version, options)
            if jar is None or options.unpack_dir is None:
                continue
            group, artifact = coord.split(":", 1)
            packages.append(
                Package(
                    ecosystem=ECOSYSTEM,
                    name=coord,
                    version=version,
                    root=Path(options.unpack_dir) / "maven" / group / f"{artifact}-{version}",
                    modules=(group,),
                    where=str(jar),
                )
            )
        note = None
        if coords and not packages:
            note = (
                "no sources jar of the declared dependencies in the local Maven or Gradle "
                "cache: the plan's uses of them are not checked"
            )
        return Environment(
            ecosystem=ECOSYSTEM,
            scope=scope,
            manifest=present[0],
            location=Path(options.maven_repo) if options.maven_repo else None,
            where="sources jars",
            packages=tuple(packages),
            declared={c: f"{c}:{v}" for c, v in coords.items()},
            locked={},
            note=note,
            stamps=tuple(stamp(scope / b) for b in BUILD_FILES),
        )

    def code_files(self, package: Package) -> list[str]:
        root = package.root
        if not (root / ".unpacked").is_file():
            unpack(Path(package.where), root)
        return walk_files(root, (".java",), skip=frozenset())  # packages may be named so


SOURCE = JavaSource()


def declared(text: str) -> dict[str, str]:
    """`group:artifact` -> version from a pom.xml's `<dependency>`s or a Gradle build's
    `"group:artifact:version"` strings (a version written as a property is kept as written)."""
    out: dict[str, str] = {}
    for m in _POM_DEP.finditer(text):
        out.setdefault(f"{m.group(1)}:{m.group(2)}", m.group(3) or "")
    for m in _GRADLE_DEP.finditer(text):
        out.setdefault(f"{m.group(1)}:{m.group(2)}", m.group(3))
    return out


def _sources_jar(coord: str, version: str, options: Options) -> Path | None:
    if not version or "$" in version:
        return None
    group, artifact = coord.split(":", 1)
    if options.maven_repo:
        jar = (Path(options.maven_repo) / group.replace(".", "/") / artifact / version
               / f"{artifact}-{version}-sources.jar")  # fmt: skip
        if jar.is_file():
            return jar
    gradle = Path(options.maven_repo or "~").expanduser().parent.parent / ".gradle"
    base = gradle / "caches" / "modules-2" / "files-2.1" / group / artifact / version
    for jar in sorted(base.glob(f"*/{artifact}-{version}-sources.jar")) if base.is_dir() else []:
        return jar
    return None


def unpack(jar: Path, into: Path) -> None:
    """The `.java` files of a sources jar under `into` (names that would leave it skipped),
    at most MAX_UNPACKED_BYTES in all; a marker file says it is done."""
    into.mkdir(parents=True, exist_ok=True)
    total = 0
    with zipfile.ZipFile(jar) as z:
        for info in z.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir() or name.suffix != ".java" or name.is_absolute() or ".." in name.parts:
                continue
            total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                break
            target = into / Path(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
    (into / ".unpacked").write_text(str(jar), encoding="utf-8")
