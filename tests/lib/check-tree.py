#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Invariants of a root after any interruption and repair (tests/reliability.bats):
every installed module file is complete (its sha256 is the manifest's, which is the built
artefact's), at most one version of a package is installed per kernel, nothing we did not
install or the kernel did not ship lies in the tree, no staging file is left, a displaced
original is either archived (while displaced) or back at its exact path, and depmod's index
lists exactly the module files present.  Prints the problems; exit 1 if any."""
import glob, hashlib, os, sys

root, kver = sys.argv[1], sys.argv[2]
shipped = dict(a.split("=", 1) for a in sys.argv[3:])  # relpath=sha256 of shipped modules
state = os.path.join(root, "var/lib/dkm-hook")
moddir = os.path.join(root, "lib/modules", kver)
problems = []

def sha(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()

def kv(p):
    d = {}
    with open(p) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    return d

owned = {}      # relpath -> package/version
installed = {}  # package -> [versions]
for man in glob.glob(f"{state}/packages/*/*/kernels/{kver}/*/manifest"):
    parts = man.split("/")
    pkg, ver = parts[-6], parts[-5]
    installed.setdefault(pkg, []).append(ver)
    m = kv(man)
    st = kv(os.path.join(os.path.dirname(man), "state"))
    if st.get("state") != "installed":
        problems.append(f"{pkg}/{ver}: manifest present but state is {st.get('state')}")
    for mod in m.get("modules", "").split():
        logical, want = m.get(f"module.{mod}.path"), m.get(f"module.{mod}.sha256")
        full = root + logical
        if not os.path.exists(full):
            problems.append(f"{pkg}/{ver}: {full} missing")
            continue
        if sha(full) != want:
            problems.append(f"{pkg}/{ver}: {full} is not the installed file (torn or foreign)")
        if st.get(f"module.{mod}.sha256") != want:
            problems.append(f"{pkg}/{ver}: manifest sha of {mod} is not the built artefact's")
        owned[os.path.relpath(full, moddir)] = f"{pkg}/{ver}"
for st_path in glob.glob(f"{state}/packages/*/*/kernels/{kver}/*/state"):
    if kv(st_path).get("state") == "installed" and \
            not os.path.exists(os.path.join(os.path.dirname(st_path), "manifest")):
        parts = st_path.split("/")
        problems.append(f"{parts[-6]}/{parts[-5]}: state says installed but there is no manifest")
for pkg, vers in installed.items():
    if len(vers) > 1:
        problems.append(f"{pkg}: several versions installed at once: {vers}")

present = set()
for dirpath, dirs, files in os.walk(moddir):
    if dirpath == moddir:
        dirs[:] = [d for d in dirs if d not in ("build", "source")]
    for f in files:
        rel = os.path.relpath(os.path.join(dirpath, f), moddir)
        if f.endswith(".dkm-hook-new") or f.startswith(".#"):
            problems.append(f"staging file left: {rel}")
        elif ".ko" in f:
            present.add(rel)
            if rel not in owned and rel not in shipped:
                problems.append(f"foreign module file: {rel}")

for rel, want in shipped.items():
    full = os.path.join(moddir, rel)
    name = os.path.basename(rel).split(".ko")[0].replace("-", "_")
    displaced = any(os.path.basename(o).split(".ko")[0].replace("-", "_") == name for o in owned)
    archive = f"{state}/kernels/{kver}/originals/{name}.file"
    if displaced:
        # (ours may be installed at the very path: then it is our file there, checked above)
        if os.path.exists(full) and rel not in owned:
            problems.append(f"shipped {rel} still in place while displaced")
        if not os.path.exists(archive) or sha(archive) != want:
            problems.append(f"shipped {rel}: archive missing or wrong")
    else:
        if not os.path.exists(full) or sha(full) != want:
            problems.append(f"shipped {rel} not back at its exact path")

dep = os.path.join(moddir, "modules.dep")
indexed = set()
if os.path.exists(dep):
    with open(dep) as f:
        indexed = {line.split(":", 1)[0] for line in f if ":" in line}
if indexed != present:
    problems.append(f"modules.dep does not match the tree: only indexed {sorted(indexed - present)}, "
                    f"not indexed {sorted(present - indexed)}")
for leftover in ("journal", "depmod-pending"):
    if os.path.exists(f"{state}/kernels/{kver}/{leftover}"):
        problems.append(f"{leftover} still present after repair")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
