# Trustee attestation-service (EAR) policy for Azure SEV-SNP CVMs attested through the vTPM
# (evidence type "az-snp-vtpm"). Reference values come from the RVPS:
#   snp_launch_measurement  the SNP launch measurement(s) of the paravisor + firmware image
#   tpm_pcr4, tpm_pcr7, tpm_pcr9, tpm_pcr11   PCR values of known-good boots
# (cvm-agent policy generate --pcr-values prints them, replayed from the event log).
package policy

import rego.v1

default hardware := 97

default executables := 33

default configuration := 36

hardware := 2 if {
	input["az-snp-vtpm"].measurement in query_reference_value("snp_launch_measurement")
	input["az-snp-vtpm"].reported_tcb_microcode >= 115
	input["az-snp-vtpm"].reported_tcb_snp >= 8
	input["az-snp-vtpm"].reported_tcb_bootloader >= 3
}

executables := 3 if {
	input["az-snp-vtpm"].tpm.pcr04 in query_reference_value("tpm_pcr4")
	input["az-snp-vtpm"].tpm.pcr07 in query_reference_value("tpm_pcr7")
	input["az-snp-vtpm"].tpm.pcr09 in query_reference_value("tpm_pcr9")
}

configuration := 2 if {
	input["az-snp-vtpm"].policy_debug_allowed == 0
	input["az-snp-vtpm"].policy_migrate_ma == 0
	input["az-snp-vtpm"].vmpl == 0
}

trust_claims := {
	"hardware": hardware,
	"executables": executables,
	"configuration": configuration,
}
