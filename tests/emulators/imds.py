#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Azure Instance Metadata Service emulator (test only); usually run with --plain (IMDS is plain HTTP).

  GET /metadata/THIM/amd/certification          -> {"vcekCert","certificateChain","tcbm","cacheControl"}
  GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=<URL>
      -> {"access_token": <RS256 JWT>, "expires_in", "expires_on", "ext_expires_in", "not_before",
          "resource", "token_type": "Bearer", "client_id"} (numbers as strings, like IMDS)

Both need the header `Metadata: true` (400 otherwise, with IMDS's error bodies). The access token is
signed by this emulator's TEST-ONLY "AAD" key, whose certificate it writes to
<state-dir>/imds-aad-signing.pem for the Key Vault emulator (--aad-cert). The THIM answer comes
from --thim FILE (JSON) or the control endpoint POST /thim.

Faults ({"kind":"flag","name":...}): expired_token, bad_signature, wrong_audience, no_thim (404)."""
import hashlib
import json
import os
import sys
import time
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

import joseutil  # noqa: E402
from emulator import Emulator, Response  # noqa: E402

RESOURCES = ("https://vault.azure.net", "https://managedhsm.azure.net", "https://management.azure.com/")
TENANT = "00000000-0000-0000-0000-0000000test0"

emu = Emulator("imds")
emu.argument("--thim", help="JSON file with the THIM certification answer")
emu.argument("--token-lifetime", type=int, default=86399, help="access token lifetime in seconds")
emu.argument("--client-id", default="11111111-TEST-ONLY-1111-111111111111", help="managed identity client id")

STATE = {"thim": None}


@emu.on_start
def setup(e):
    STATE["key"] = rsa.generate_private_key(65537, 2048)
    STATE["cert"] = joseutil.make_cert("TEST-ONLY AAD token signing", STATE["key"], days=3)
    STATE["kid"] = joseutil.x5c_thumbprints(STATE["cert"])["x5t"]
    joseutil.write_atomic(os.path.join(e.args.state_dir, "imds-aad-signing.pem"), joseutil.cert_pem(STATE["cert"]))
    if e.args.thim:
        with open(e.args.thim, encoding="utf-8") as f:
            set_thim(json.load(f))


@emu.control_route("POST", "/thim")
def set_thim(body):
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("vcekCert", "certificateChain",
                                                                                       "tcbm")):
        raise ValueError("THIM answer needs string vcekCert, certificateChain and tcbm")
    STATE["thim"] = body
    return {"ok": True}


def imds_error(status, error, description):
    return Response.json({"error": error, "error_description": description}, status=status)


def metadata_header_ok(req):
    return (req.headers.get("Metadata") or "").lower() == "true"


@emu.route("GET", "/metadata/THIM/amd/certification")
def thim(req):
    if not metadata_header_ok(req):
        return Response.json({"error": "Bad request. Required metadata header not specified"}, status=400)
    if req.take_flag("no_thim") or STATE["thim"] is None:
        return Response.json({"error": "Not found"}, status=404)
    body = dict(STATE["thim"])
    body.setdefault("cacheControl", "86400")
    return Response.json(body)


@emu.route("GET", "/metadata/identity/oauth2/token")
def token(req):
    if not metadata_header_ok(req):
        return imds_error(400, "invalid_request", "Required metadata header not specified")
    if not req.query.get("api-version"):
        return imds_error(400, "invalid_request", "Required query variable 'api-version' is missing")
    resource = req.query.get("resource")
    if not resource:
        return imds_error(400, "invalid_request", "Required query variable 'resource' is missing")
    if resource.rstrip("/") not in [r.rstrip("/") for r in RESOURCES]:
        return imds_error(400, "invalid_resource",
                          "AADSTS500011: The resource principal named %s was not found in the tenant" % resource)
    now = int(time.time())
    if req.take_flag("expired_token"):
        now -= emu.args.token_lifetime + 3600
    aud = "https://wrong-audience.invalid" if req.take_flag("wrong_audience") else resource
    claims = {"aud": aud, "iss": "https://sts.windows.net/%s/" % TENANT, "iat": now, "nbf": now,
              "exp": now + emu.args.token_lifetime, "appid": emu.args.client_id, "oid": emu.args.client_id,
              "sub": emu.args.client_id, "tid": TENANT, "idtyp": "app", "uti": uuid.uuid4().hex,
              "xms_mirid": "/subscriptions/TEST-ONLY/resourcegroups/test/providers/Microsoft.Compute/virtualMachines/cvm"}
    jwt = joseutil.jws_sign({"typ": "JWT", "alg": "RS256", "x5t": STATE["kid"], "kid": STATE["kid"]}, claims,
                            STATE["key"])
    if req.take_flag("bad_signature"):
        head, _, sig = jwt.rpartition(".")
        raw = bytearray(joseutil.b64u_decode(sig))
        raw[0] ^= 0x80
        jwt = head + "." + joseutil.b64u(bytes(raw))
    return Response.json({"access_token": jwt, "client_id": emu.args.client_id,
                          "expires_in": str(claims["exp"] - int(time.time())), "expires_on": str(claims["exp"]),
                          "ext_expires_in": str(claims["exp"] - int(time.time())), "not_before": str(now),
                          "resource": resource, "token_type": "Bearer"})


@emu.control_route("GET", "/aad-cert")
def aad_cert(_body):
    return {"pem": joseutil.cert_pem(STATE["cert"]),
            "sha256": hashlib.sha256(joseutil.cert_der(STATE["cert"])).hexdigest()}


if __name__ == "__main__":
    sys.exit(emu.main())
