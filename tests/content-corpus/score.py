#!/usr/bin/env python3
"""Score `mamori --json inspect --show-values CORPUS` against the corpus's truth.

    python3 score.py CORPUS_DIR FINDINGS.jsonl

A finding is a true positive when (file, type, value) is in truth.jsonl; findings and truth
are sets per file, so duplicates collapse.  Any other finding of a scored type is a false
positive.  Types outside the targets (secret, source_code, type_mismatch, …) are ignored.
Exits 1 when a target of the issue is missed:
  precision ≥ 0.98 and recall ≥ 0.97 for my_number, corporate_number, credit_card;
  ≥ 0.9 for phone_jp, postal_code_jp, email, bank_account, passport, label;
  no my_number finding on a 12-digit number with a wrong check digit.
"""
import collections
import json
import os
import sys
import unicodedata

CHECKSUM = ["my_number", "corporate_number", "credit_card"]
OTHERS = ["phone_jp", "postal_code_jp", "email", "bank_account", "passport", "label"]
TYPES = CHECKSUM + OTHERS
TARGET = {t: (0.98, 0.97) for t in CHECKSUM}
TARGET.update({t: (0.9, 0.9) for t in OTHERS})
EXAMPLES = 10
META = {"truth.jsonl", "negatives.jsonl", "files.jsonl"}  # the corpus's own answer files


def my_number_valid(d):
    if len(d) != 12 or not d.isdigit():
        return False
    s = sum(int(d[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    r = s % 11
    return int(d[11]) == (0 if r <= 1 else 11 - r)


def norm(typ, value):
    value = (value or "").strip()
    if typ == "label":
        return unicodedata.normalize("NFKC", value).casefold()
    if typ == "email":
        return unicodedata.normalize("NFKC", value).lower()
    if typ == "passport":
        return unicodedata.normalize("NFKC", value).upper()
    return value


SEP_NAMES = {" ": "space", "\u3000": "U+3000", "-": "-", "\u2010": "U+2010", "\u2011": "U+2011",
             "\u2013": "en-dash", "\u2014": "em-dash", "\u2212": "minus", "\u30fc": "ー", "\uff70": "ｰ",
             "\uff0d": "－", "(": "(", ")": ")", "+": "+"}


def shape(shown):
    """How a value was written: its lead-in, full-width or not, its separators."""
    i = 0
    while i < len(shown) and not shown[i].isdigit():
        i += 1
    lead, body = shown[:i].strip(), shown[i:]
    if not body:
        return "text"
    fw = any("０" <= c <= "９" for c in body)
    seps = sorted({SEP_NAMES.get(c, c) for c in body if not c.isdigit() and not c.isalpha()})
    out = ("full-width " if fw else "") + ("grouped " + "/".join(seps) if seps else "plain")
    if lead and any(c.isalnum() for c in lead):
        lead = lead.rstrip(":： ")
        out = f"{lead[-6:]}… " + out if len(lead) > 6 else f"{lead} " + out
    return out


def load_jsonl(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def ratio(a, b):
    return a / b if b else 1.0


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    corpus, findings_path = os.path.abspath(sys.argv[1]), sys.argv[2]
    truth = load_jsonl(os.path.join(corpus, "truth.jsonl"))
    negatives = load_jsonl(os.path.join(corpus, "negatives.jsonl"))
    files = {x["file"]: x for x in load_jsonl(os.path.join(corpus, "files.jsonl"))}

    def fmt_of(rel):
        x = files.get(rel)
        if not x:
            return "?"
        if x["format"] in ("txt", "csv"):
            return f"{x['format']}/{x['producer']}"
        if x["format"] == "pdf":
            return f"pdf/{x['producer']}"
        return x["format"]

    def rel_of(path):
        path = path.split("!", 1)[0]
        ap = os.path.abspath(path)
        if ap.startswith(corpus + os.sep):
            return os.path.relpath(ap, corpus)
        return path

    truth_set = collections.defaultdict(set)      # type -> {(file, value)}
    truth_ctx, truth_shown = {}, {}
    for t in truth:
        key = (t["file"], norm(t["type"], t["value"]))
        truth_set[t["type"]].add(key)
        truth_ctx.setdefault((t["type"],) + key, t.get("ctx", ""))
        truth_shown.setdefault((t["type"],) + key, t.get("shown", ""))
    neg_by = {}
    bad_check = set()
    for n in negatives:
        neg_by.setdefault((n["file"], n["value"]), n["kind"])
        if n["kind"] == "my_number_bad_check":
            bad_check.add((n["file"], n["value"]))

    found = collections.defaultdict(dict)        # type -> {(file, value): finding}
    problems = []
    ignored = collections.Counter()
    for f in load_jsonl(findings_path):
        if "problem" in f:
            if rel_of(f.get("file", "")) not in META:
                problems.append(f)
            continue
        typ = f.get("type")
        if typ not in TYPES:
            ignored[typ] += 1
            continue
        key = (rel_of(f["file"]), norm(typ, f.get("value")))
        if key[0] in META:
            continue
        found[typ].setdefault(key, f)

    # --- per type ---------------------------------------------------------------------------
    failed = []
    print(f"{'type':<18}{'truth':>7}{'TP':>7}{'FP':>6}{'FN':>6}{'precision':>11}{'recall':>8}  target")
    per_fmt = collections.defaultdict(lambda: collections.Counter())
    fn_lists, fp_lists = {}, {}
    for typ in TYPES:
        tset = truth_set[typ]
        fset = set(found[typ])
        tp = tset & fset
        fp = fset - tset
        fn = tset - fset
        p, r = ratio(len(tp), len(tp) + len(fp)), ratio(len(tp), len(tset))
        tp_min, tr_min = TARGET[typ]
        ok = p >= tp_min and r >= tr_min
        if not ok:
            failed.append(typ)
        print(f"{typ:<18}{len(tset):>7}{len(tp):>7}{len(fp):>6}{len(fn):>6}{p:>11.4f}{r:>8.4f}  "
              f"P≥{tp_min} R≥{tr_min} {'ok' if ok else 'MISSED'}")
        for k in tp:
            per_fmt[fmt_of(k[0])][typ + ":tp"] += 1
        for k in fp:
            per_fmt[fmt_of(k[0])][typ + ":fp"] += 1
        for k in fn:
            per_fmt[fmt_of(k[0])][typ + ":fn"] += 1
        fn_lists[typ] = sorted(fn)
        fp_lists[typ] = sorted(fp)
    if ignored:
        print("ignored types: " + ", ".join(f"{k}={v}" for k, v in sorted(ignored.items(), key=str)))

    # --- per format -------------------------------------------------------------------------
    print()
    print("per format (all scored types; then recall per type where below 1)")
    print(f"{'format':<22}{'files':>6}{'TP':>7}{'FP':>6}{'FN':>6}{'precision':>11}{'recall':>8}")
    nfiles = collections.Counter(fmt_of(x) for x in files)
    for fmt in sorted(nfiles):
        c = per_fmt[fmt]
        tp = sum(v for k, v in c.items() if k.endswith(":tp"))
        fp = sum(v for k, v in c.items() if k.endswith(":fp"))
        fn = sum(v for k, v in c.items() if k.endswith(":fn"))
        weak = []
        for typ in TYPES:
            t_tp, t_fp, t_fn = c[typ + ":tp"], c[typ + ":fp"], c[typ + ":fn"]
            if t_fn or t_fp:
                weak.append(f"{typ} R={ratio(t_tp, t_tp + t_fn):.2f} FP={t_fp}")
        print(f"{fmt:<22}{nfiles[fmt]:>6}{tp:>7}{fp:>6}{fn:>6}{ratio(tp, tp + fp):>11.4f}{ratio(tp, tp + fn):>8.4f}"
              + ("   " + "; ".join(weak) if weak else ""))

    # --- examples ---------------------------------------------------------------------------
    for typ in TYPES:
        fn, fp = fn_lists[typ], fp_lists[typ]
        if not fn and not fp:
            continue
        print()
        print(f"== {typ}: {len(fn)} missed, {len(fp)} false")
        if fn:
            by_ctx = collections.Counter(truth_ctx.get((typ,) + k, "") for k in fn)
            print("  missed by context: " + ", ".join(f"{k or '-'}={v}" for k, v in by_ctx.most_common()))
            by_fmt = collections.Counter(fmt_of(k[0]) for k in fn)
            print("  missed by format:  " + ", ".join(f"{k}={v}" for k, v in by_fmt.most_common()))
            all_shapes = collections.Counter(shape(truth_shown.get((typ,) + k, "")) for k in truth_set[typ])
            miss_shapes = collections.Counter(shape(truth_shown.get((typ,) + k, "")) for k in fn)
            print("  missed by written form (missed/all): " + ", ".join(
                f"{k!r} {v}/{all_shapes[k]}" for k, v in miss_shapes.most_common(12)))
        groups = collections.defaultdict(list)
        for k in fn:
            groups[(fmt_of(k[0]), shape(truth_shown.get((typ,) + k, "")))].append(k)
        picked, lists = [], list(groups.values())
        while len(picked) < min(EXAMPLES, len(fn)):
            for lst in lists:
                if lst and len(picked) < EXAMPLES:
                    picked.append(lst.pop(0))
        for k in picked:
            print(f"  FN {k[0]}  value={k[1]}  shown={truth_shown.get((typ,) + k, '')!r}  ctx={truth_ctx.get((typ,) + k, '')}")
        if fp:
            by_kind = collections.Counter(neg_by.get(k, "unplanted") for k in fp)
            print("  false by planted kind: " + ", ".join(f"{k}={v}" for k, v in by_kind.most_common()))
        for k in fp[:EXAMPLES]:
            f = found[typ][k]
            print(f"  FP {k[0]}  value={f.get('value')}  planted={neg_by.get(k, '-')}  "
                  f"conf={f.get('confidence')}  reason={f.get('reason')}")

    # --- the zero-tolerance check ------------------------------------------------------------
    print()
    bad_hits = [k for k in found["my_number"] if k in bad_check or not my_number_valid(k[1])]
    print(f"my_number hits on 12-digit numbers with a wrong check digit: {len(bad_hits)} "
          f"(planted: {len(bad_check)}; must be 0)")
    for k in bad_hits[:EXAMPLES]:
        print(f"  BAD {k[0]}  value={k[1]}")
    if bad_hits:
        failed.append("my_number_bad_check")

    if problems:
        print()
        print(f"extraction problems: {len(problems)}")
        for p in problems[:20]:
            print(f"  {rel_of(p.get('file', ''))}: {p.get('problem')} {p.get('detail', '')}")

    print()
    if failed:
        print("content-eval: targets MISSED: " + ", ".join(failed))
        return 1
    print("content-eval: all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
