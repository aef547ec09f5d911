#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Write include/memballoon-names.h from the memballoon netlink spec.

The names userspace prints and parses (memballoond, memballoonctl, the test
agent tests/agent/mbnl.c): every attribute of the dev set with its payload
type, every event, every command; each name is the spec's with '-' written
'_' (the daemon's JSON keys).  The spec is read with the kernel's own
generator (ynl_gen_c.Family, given by --ynl), so the C enum names are
exactly those of the UAPI header it writes: the tables index by them and
never restate a number.  ynl-gen-c's own userspace mode needs libynl, which
Debian does not package; this is the small part of it the programs need.

Usage: nl-names.py --ynl .../tools/net/ynl/pyynl/ynl_gen_c.py --spec SPEC -o OUT
(scripts/netlink-gen.sh runs it; `make netlink`).
"""
import argparse
import importlib.util
import os
import sys

# spec type -> enum memballoon_attr_type entry
TYPES = {"pad": "PAD", "u32": "U32", "u64": "U64", "string": "STRING"}


def load_ynl(path):
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location("ynl_gen_c", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def c_str(name):
    return '"%s"' % name.replace("-", "_")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ynl", required=True, help="the kernel's ynl_gen_c.py")
    ap.add_argument("--spec", required=True)
    ap.add_argument("-o", dest="out", required=True)
    args = ap.parse_args()

    ynl = load_ynl(args.ynl)
    fam = ynl.Family(args.spec, [], None)
    _, spec_path = ynl.find_kernel_root(args.spec)

    attrs = fam.attr_sets["dev"]
    events = fam.consts["event"]
    out = [
        "/* SPDX-License-Identifier: %s */" % fam.license,
        "/* Do not edit directly, auto-generated from: */",
        "/*\t%s */" % spec_path,
        "/* by scripts/nl-names.py: the names userspace uses */",
        "/* To regenerate run: tools/net/ynl/ynl-regen.sh */",
        "",
        "#ifndef MEMBALLOON_NAMES_H",
        "#define MEMBALLOON_NAMES_H",
        "",
        "#include <stddef.h>",
        "/* beside this file, whatever the include path */",
        '#include "uapi/%s"' % fam.uapi_header,
        "",
        "/* The payload of a dev attribute. */",
        "enum memballoon_attr_type {",
        "\tMEMBALLOON_ATTR_NONE,\t/* not an attribute of the spec */",
    ]
    out += ["\tMEMBALLOON_ATTR_%s," % t for t in TYPES.values()]
    out += [
        "};",
        "",
        "struct memballoon_attr_info {",
        "\tconst char *name;",
        "\tenum memballoon_attr_type type;",
        "};",
        "",
    ]

    cnt = "%s + 1" % attrs.max_name
    out.append("/* Attribute @i of the dev set, or NULL when the spec has no such attribute. */")
    out.append("static inline const struct memballoon_attr_info *memballoon_dev_attr(unsigned int i)")
    out.append("{")
    out.append("\tstatic const struct memballoon_attr_info attrs[%s] = {" % cnt)
    for _, attr in attrs.items():
        if attr.type not in TYPES:
            sys.exit("nl-names.py: attribute %s: type %s has no userspace type here"
                     % (attr.name, attr.type))
        out.append("\t\t[%s] = { %s, MEMBALLOON_ATTR_%s }," % (attr.enum_name, c_str(attr.name),
                                                              TYPES[attr.type]))
    out.append("\t};")
    out.append("")
    out.append("\treturn i < %s && attrs[i].name ? &attrs[i] : NULL;" % cnt)
    out.append("}")
    out.append("")

    def names(func, what, cnt, rows):
        out.append("/* The name of %s @i, or NULL. */" % what)
        out.append("static inline const char *%s(unsigned int i)" % func)
        out.append("{")
        out.append("\tstatic const char *const names[%s] = {" % cnt)
        for idx, val in rows:
            out.append("\t\t[%s] = %s," % (idx, c_str(val)))
        out.append("\t};")
        out.append("")
        out.append("\treturn i < %s ? names[i] : NULL;" % cnt)
        out.append("}")
        out.append("")

    if not events.get("render-max"):
        sys.exit("nl-names.py: the event enum needs render-max (its table is sized by it)")
    ev_max = ynl.c_upper(events.value_pfx + "max")
    names("memballoon_event_name", "event (%s)" % events.enum_name, ev_max + " + 1",
          [(e.c_name, e.name) for e in events.entries.values()])
    ops = [op for op in fam.msgs.values()]
    names("memballoon_cmd_name", "command", ynl.c_upper(fam.get("cmd-max-name", fam.op_prefix + "MAX"))
          + " + 1", [(op.enum_name, op.name) for op in ops])

    out.append("#endif /* MEMBALLOON_NAMES_H */")
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
