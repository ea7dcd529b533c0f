# SPDX-License-Identifier: Apache-2.0
"""Claim-condition policies for the emulators (test only).

The Key Vault secure-key-release policy grammar (azure-protocol.md section 6.6):
    policy    := {"version": "1.0.0", "anyOf": [authority, ...]}
    authority := {"authority": "<MAA URL>", "anyOf"|"allOf": [condition, ...]}
    condition := {"claim": "<dotted path>", OP: value} | {"anyOf": [...]} | {"allOf": [...]}
    OP        := equals | notEquals | less | lessOrEquals | greater | greaterOrEquals | exists
The same condition grammar serves the MAA emulator's custom attestation policy and the KBS
emulator's resource policy. Every evaluation returns (allowed, reason) where reason names the
first failing condition."""

OPS = ("equals", "notEquals", "less", "lessOrEquals", "greater", "greaterOrEquals", "exists")


class PolicyError(ValueError):
    """The policy document itself is malformed."""


_MISSING = object()


def claim_value(claims, path):
    """Value at a dotted path; a key that itself contains dots is matched before splitting."""
    if not isinstance(claims, dict):
        return _MISSING
    if path in claims:
        return claims[path]
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:i])
        if head in claims:
            v = claim_value(claims[head], ".".join(parts[i:]))
            if v is not _MISSING:
                return v
    return _MISSING


def _coerce(actual, expected):
    """Brings a policy value to the claim's type (policies often write booleans and numbers as strings)."""
    if isinstance(actual, bool):
        if isinstance(expected, str) and expected.lower() in ("true", "false"):
            return expected.lower() == "true"
        return expected
    if isinstance(actual, (int, float)) and isinstance(expected, str):
        try:
            return float(expected) if "." in expected else int(expected, 0)
        except ValueError:
            return expected
    if isinstance(actual, str) and isinstance(expected, bool):
        return "true" if expected else "false"
    if isinstance(actual, str) and isinstance(expected, (int, float)):
        return str(expected)
    return expected


def _compare(op, actual, expected):
    if op == "exists":
        want = expected if isinstance(expected, bool) else str(expected).lower() != "false"
        return (actual is not _MISSING) == want
    if actual is _MISSING:
        return False
    expected = _coerce(actual, expected)
    if op == "equals":
        return actual == expected and type(actual) is type(expected) or \
            (isinstance(actual, (int, float)) and not isinstance(actual, bool) and actual == expected)
    if op == "notEquals":
        return not _compare("equals", actual, expected)
    try:
        if isinstance(actual, bool) or isinstance(expected, bool):
            return False
        return {"less": actual < expected, "lessOrEquals": actual <= expected, "greater": actual > expected,
                "greaterOrEquals": actual >= expected}[op]
    except TypeError:
        return False


def check_condition(cond, where="condition"):
    if not isinstance(cond, dict):
        raise PolicyError("%s: not an object" % where)
    if "claim" in cond:
        ops = [k for k in cond if k in OPS]
        extra = [k for k in cond if k not in OPS and k != "claim"]
        if not isinstance(cond["claim"], str) or len(ops) != 1 or extra:
            raise PolicyError("%s: a claim condition has a string \"claim\" and exactly one of %s"
                              % (where, ", ".join(OPS)))
        return
    keys = [k for k in ("anyOf", "allOf") if k in cond]
    if len(keys) != 1 or len(cond) != 1 or not isinstance(cond[keys[0]], list) or not cond[keys[0]]:
        raise PolicyError("%s: needs \"claim\", or one non-empty \"anyOf\"/\"allOf\" list" % where)
    for i, c in enumerate(cond[keys[0]]):
        check_condition(c, "%s.%s[%d]" % (where, keys[0], i))


def evaluate(cond, claims):
    """(True, None) or (False, reason) for one condition tree."""
    if "claim" in cond:
        op = next(k for k in cond if k in OPS)
        actual = claim_value(claims, cond["claim"])
        if _compare(op, actual, cond[op]):
            return True, None
        shown = "absent" if actual is _MISSING else repr(actual)
        return False, "claim %s is %s, policy wants %s %r" % (cond["claim"], shown, op, cond[op])
    if "allOf" in cond:
        for c in cond["allOf"]:
            ok, why = evaluate(c, claims)
            if not ok:
                return False, why
        return True, None
    reasons = []
    for c in cond["anyOf"]:
        ok, why = evaluate(c, claims)
        if ok:
            return True, None
        reasons.append(why)
    return False, "none of anyOf holds (%s)" % "; ".join(reasons)


def _norm_authority(url):
    return url.rstrip("/").lower() if isinstance(url, str) else url


def check_release_policy(policy):
    """Raises PolicyError unless policy follows the Key Vault grammar."""
    if not isinstance(policy, dict):
        raise PolicyError("release policy: not a JSON object")
    if policy.get("version") not in ("1.0.0", "1.0"):
        raise PolicyError("release policy: version %r is not 1.0.0" % (policy.get("version"),))
    auths = policy.get("anyOf")
    if not isinstance(auths, list) or not auths:
        raise PolicyError("release policy: needs a non-empty anyOf list of authorities")
    for i, a in enumerate(auths):
        where = "release policy anyOf[%d]" % i
        if not isinstance(a, dict) or not isinstance(a.get("authority"), str):
            raise PolicyError("%s: needs a string authority" % where)
        rest = {k: v for k, v in a.items() if k != "authority"}
        check_condition(rest, where)


def evaluate_release_policy(policy, claims):
    """(allowed, reason): an authority equal to the token's iss whose conditions hold."""
    iss = _norm_authority(claims.get("iss"))
    reasons = []
    for a in policy["anyOf"]:
        if _norm_authority(a["authority"]) != iss:
            continue
        ok, why = evaluate({k: v for k, v in a.items() if k != "authority"}, claims)
        if ok:
            return True, None
        reasons.append(why)
    if not reasons:
        return False, "no authority in the release policy matches the token issuer %s" % claims.get("iss")
    return False, "; ".join(reasons)
