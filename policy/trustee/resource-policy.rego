# Trustee KBS resource policy: release a disk key only to a guest whose EAR token says
# "affirming" (every trust claim of the attestation policy above reached its good value),
# and only the key of its own volume class.
package policy

import rego.v1

default allow := false

allow if {
	input["submods"]["cpu0"]["ear.status"] == "affirming"
	data["resource-path"] in allowed_paths
}

allowed_paths := {
	"cvm-agent/luks/root",
	"cvm-agent/luks/data",
}
