# Trustee attestation-service (EAR) policy for SEV-SNP guests without a paravisor (evidence
# type "snp": the report from configfs-tsm or /dev/sev-guest). The launch measurement covers
# the firmware, and with measured direct boot the kernel, initrd and command line.
package policy

import rego.v1

default hardware := 97

default executables := 33

default configuration := 36

hardware := 2 if {
	input.snp.reported_tcb_microcode >= 115
	input.snp.reported_tcb_snp >= 8
	input.snp.reported_tcb_bootloader >= 3
	input.snp.reported_tcb_tee >= 0
}

executables := 3 if {
	input.snp.measurement in query_reference_value("snp_launch_measurement")
}

configuration := 2 if {
	input.snp.policy_debug_allowed == 0
	input.snp.policy_migrate_ma == 0
	input.snp.platform_smt_enabled in query_reference_value("snp_smt_allowed")
}

trust_claims := {
	"hardware": hardware,
	"executables": executables,
	"configuration": configuration,
}
