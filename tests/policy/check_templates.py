#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Validates the service-side templates in policy/:
 - Key Vault release policies: JSON, the Key Vault grammar (the emulator's check_release_policy) and
   evaluation by the Key Vault emulator's policy engine (tests/emulators/policy.py, the code its
   /release endpoint runs) against real recorded MAA claims that must pass, and mutations of them
   (and tokens of other TEEs) that must fail;
 - the MAA custom policy: structure of the version=1.0 language, every claim the hardened release
   policy needs is issued, and its authorization rules evaluated on the same claim sets;
 - Trustee Rego: no Rego checker is packaged for Debian (no opa / regal / regorus), so a structural
   check: package, import rego.v1, balanced delimiters outside strings and comments, rule heads.
Prints 'N passed, N failed'; exit 77 when the real-data corpus is absent (after the structural checks)."""
import base64
import copy
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulators"))
import policy as kvpolicy  # noqa: E402  (the Key Vault emulator's release-policy engine)

PASSED = 0
FAILED = 0


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL: " + what)


def jwt_payload(path):
    part = open(path).read().strip().split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def set_claim(claims, path, value):
    c = copy.deepcopy(claims)
    node = c
    parts = path.split(".")
    if parts[0] == "x-ms-isolation-tee":
        node = node["x-ms-isolation-tee"]
        parts = [".".join(parts[1:])]
    key = ".".join(parts)
    if value is None:
        node.pop(key, None)
    else:
        node[key] = value
    return c


# --- Key Vault release policies ------------------------------------------------------------------

def load_release_policies():
    out = {}
    for name in ("minimal", "hardened"):
        path = os.path.join(ROOT, "policy", "keyvault", "release-policy-%s.json" % name)
        doc = json.load(open(path))
        try:
            kvpolicy.check_release_policy(doc)
            check(True, "")
        except kvpolicy.PolicyError as e:
            check(False, "%s: %s" % (path, e))
        out[name] = doc
    return out


def for_issuer(policy, iss):
    """Operators put their MAA instance as authority; evaluate the template for the token's."""
    p = copy.deepcopy(policy)
    for a in p["anyOf"]:
        a["authority"] = iss
    return p


def evaluate_release(policies, vectors):
    thom = json.load(open(os.path.join(vectors, "thomvanl-skr", "attestation-response-body.json")))
    midnight = jwt_payload(os.path.join(vectors, "midnight-maa-cvm", "attestation.jwt"))
    sgx = jwt_payload(os.path.join(vectors, "azure-sdk-for-cpp-maa", "sgx_shared.token0.jwt"))
    good = {"thomvanl sharedweu": thom, "midnight sharedeus2": midnight}

    for name, pol in policies.items():
        for label, claims in good.items():
            ok, why = kvpolicy.evaluate_release_policy(for_issuer(pol, claims["iss"]), claims)
            check(ok, "%s release policy refuses the real %s token: %s" % (name, label, why))
        # Another MAA instance than the policy's authority.
        ok, _ = kvpolicy.evaluate_release_policy(for_issuer(pol, "https://evil.attest.azure.net"), thom)
        check(not ok, "%s: token from another issuer accepted" % name)
        # An SGX enclave token of the same service.
        ok, _ = kvpolicy.evaluate_release_policy(for_issuer(pol, sgx["iss"]), sgx)
        check(not ok, "%s: SGX enclave token accepted" % name)
        for mutation in (("x-ms-isolation-tee.x-ms-attestation-type", "tdxvm"),
                         ("x-ms-isolation-tee.x-ms-compliance-status", "azure-noncompliant"),
                         ("x-ms-isolation-tee.x-ms-compliance-status", None)):
            bad = set_claim(thom, *mutation)
            ok, _ = kvpolicy.evaluate_release_policy(for_issuer(pol, bad["iss"]), bad)
            check(not ok, "%s: accepted with %s = %r" % (name, mutation[0], mutation[1]))

    hardened = policies["hardened"]
    for mutation in (("x-ms-isolation-tee.x-ms-sevsnpvm-is-debuggable", True),
                     ("x-ms-isolation-tee.x-ms-sevsnpvm-migration-allowed", True),
                     ("x-ms-isolation-tee.x-ms-sevsnpvm-vmpl", 1),
                     ("x-ms-isolation-tee.x-ms-sevsnpvm-snpfw-svn", 7),
                     ("x-ms-isolation-tee.x-ms-sevsnpvm-microcode-svn", 114),
                     ("x-ms-isolation-tee.x-ms-sevsnpvm-bootloader-svn", 2),
                     ("x-ms-isolation-tee.x-ms-sevsnpvm-hostdata", "01" * 32),
                     ("secureboot", False),
                     ("x-ms-azurevm-kerneldebug-enabled", True),
                     ("x-ms-azurevm-testsigning-enabled", True),
                     ("x-ms-attestation-type", "sevsnpvm"),
                     ("x-ms-runtime", None)):
        bad = set_claim(midnight, *mutation)
        ok, why = kvpolicy.evaluate_release_policy(for_issuer(hardened, bad["iss"]), bad)
        check(not ok, "hardened: accepted with %s = %r" % mutation)
        check(ok or mutation[0].split(".")[-1] in (why or ""), "hardened: reason %r does not name %s" % (why, mutation[0]))
        # The minimal policy does not look at these.
        ok, _ = kvpolicy.evaluate_release_policy(for_issuer(policies["minimal"], bad["iss"]), bad)
        check(ok, "minimal: refused %s = %r, which it does not constrain" % mutation)
    return midnight, thom


# --- MAA custom policy ---------------------------------------------------------------------------

RULE = re.compile(r'^(c:\[type=="([A-Za-z0-9._-]+)"(?:,\s*value\s*(==|!=|<|<=|>|>=)\s*([^\]]+))?\]\s*)?'
                  r'=>\s*(permit\(\)|deny\(\)|issue\(claim=c\));$')


def parse_maa(text):
    body = re.sub(r"//[^\n]*", "", text)
    m = re.match(r"\s*version=1\.0;\s*authorizationrules\s*\{(.*?)\};\s*issuancerules\s*\{(.*?)\};\s*$", body, re.S)
    check(m is not None, "MAA policy: not 'version=1.0; authorizationrules{...}; issuancerules{...};'")
    if not m:
        return [], []
    sections = []
    for block in (m.group(1), m.group(2)):
        rules = []
        for line in (l.strip() for l in block.split("\n")):
            if not line:
                continue
            r = RULE.match(line)
            check(r is not None, "MAA policy: rule not understood: %s" % line)
            if r:
                rules.append((r.group(2), r.group(3), r.group(4), r.group(5)))
        sections.append(rules)
    return sections[0], sections[1]


def maa_flat_claims(claims):
    """The incoming claim set of an AzureGuest attestation: top-level and x-ms-isolation-tee claims."""
    flat = {k: v for k, v in claims.items() if not isinstance(v, dict)}
    flat.update({k: v for k, v in claims.get("x-ms-isolation-tee", {}).items() if not isinstance(v, dict)})
    return flat


def maa_authorize(rules, flat):
    for ctype, op, value, action in rules:
        if ctype is None:
            return action == "permit()"
        if ctype not in flat:
            continue
        actual, want = flat[ctype], json.loads(value.strip())
        hit = {"==": actual == want, "!=": actual != want, "<": actual < want, "<=": actual <= want,
               ">": actual > want, ">=": actual >= want}[op]
        if hit:
            return action == "permit()"
    return False


def check_maa(hardened, good_claims):
    text = open(os.path.join(ROOT, "policy", "maa", "azure-cvm-snp.maa-policy")).read()
    auth, issuance = parse_maa(text)
    issued = {r[0] for r in issuance if r[3] == "issue(claim=c)"}

    def needed(cond):
        if "claim" in cond:
            yield cond["claim"]
        for k in ("allOf", "anyOf"):
            for c in cond.get(k, []):
                yield from needed(c)

    for claim in needed({"anyOf": hardened["anyOf"]}):
        leaf = claim.split(".", 1)[1] if claim.startswith("x-ms-isolation-tee.") else claim
        if leaf.startswith("x-ms-runtime"):
            continue  # the runtime claims are always part of an AzureGuest token
        check(leaf in issued, "MAA policy does not issue %s, which the hardened release policy needs" % leaf)
    if good_claims is None:
        return
    for claims in good_claims:
        check(maa_authorize(auth, maa_flat_claims(claims)), "MAA policy denies a real token's claims")
    for key, value in (("x-ms-sevsnpvm-is-debuggable", True), ("x-ms-sevsnpvm-vmpl", 2), ("secureboot", False),
                       ("x-ms-sevsnpvm-snpfw-svn", 1)):
        flat = maa_flat_claims(good_claims[0])
        flat[key] = value
        check(not maa_authorize(auth, flat), "MAA policy permits %s = %r" % (key, value))


# --- Rego ----------------------------------------------------------------------------------------

def check_rego(path):
    text = open(path).read()
    stripped, stack, in_str = [], [], False
    for line in text.split("\n"):
        out = ""
        i = 0
        while i < len(line):
            ch = line[i]
            if in_str:
                if ch == "\\":
                    i += 2
                    continue
                if ch == '"':
                    in_str = False
            elif ch == "#":
                break
            elif ch == '"':
                in_str = True
            else:
                out += ch
                if ch in "([{":
                    stack.append(ch)
                elif ch in ")]}":
                    check(stack and "([{"[")]}".index(ch)] == stack[-1], "%s: unbalanced %s" % (path, ch))
                    if stack:
                        stack.pop()
            i += 1
        check(not in_str, "%s: unterminated string" % path)
        stripped.append(out.rstrip())
    check(not stack, "%s: unclosed %s" % (path, "".join(stack)))
    code = [l for l in stripped if l.strip()]
    check(code and re.match(r"^package [a-z_][a-z0-9_.]*$", code[0]) is not None, "%s: no package line" % path)
    check("import rego.v1" in code, "%s: no 'import rego.v1'" % path)
    depth = 0
    for l in code[1:]:
        if depth == 0 and l != "import rego.v1":
            check(re.match(r"^(default )?[a-z_][a-z0-9_]*( :?= .+| if \{| := \{)?$", l) is not None,
                  "%s: not a rule head: %s" % (path, l))
        depth += l.count("{") - l.count("}")
    heads = {re.match(r"^(?:default )?([a-z_][a-z0-9_]*)", l).group(1) for l in code[1:]
             if not l.startswith(("\t", " ", "}")) and l != "import rego.v1" and re.match(r"^(?:default )?[a-z_]", l)}
    if "resource" in os.path.basename(path):
        check("allow" in heads, "%s: no allow rule" % path)
    else:
        check("trust_claims" in heads, "%s: no trust_claims" % path)


def main():
    policies = load_release_policies()
    for name in sorted(os.listdir(os.path.join(ROOT, "policy", "trustee"))):
        check_rego(os.path.join(ROOT, "policy", "trustee", name))
    vectors = os.environ.get("CVM_VECTORS", os.path.join(ROOT, "..", "shared", "vectors"))
    if not os.path.isdir(vectors):
        check_maa(policies["hardened"], None)
        print("SKIP: real-data corpus not found; release policies not evaluated on recorded tokens")
        print("%d passed, %d failed" % (PASSED, FAILED))
        sys.exit(1 if FAILED else 77)
    midnight, thom = evaluate_release(policies, vectors)
    check_maa(policies["hardened"], [midnight, thom])
    print("%d passed, %d failed" % (PASSED, FAILED))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
