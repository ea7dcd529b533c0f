# Helpers for guest-side scenarios (sourced by run; POSIX/busybox sh).
# Under TCG every fork+exec costs tens of milliseconds: prefer shell builtins (read, case, [)
# over pipelines of small tools inside loops.

uptime_s() {
        read -r _up _ </proc/uptime
        echo "$_up"
}

pass() {
        CVMTEST_PASS=$((CVMTEST_PASS + 1))
        echo "CVMTEST PASS $*"
}

fail() {
        CVMTEST_FAIL=$((CVMTEST_FAIL + 1))
        echo "CVMTEST FAIL $*"
}

info() {
        echo "CVMTEST INFO $*"
}

# check_eq NAME EXPECTED GOT: PASS when equal and not empty, FAIL with both otherwise.
check_eq() {
        if [ -n "$2" ] && [ "$2" = "$3" ]; then
                pass "$1"
        else
                fail "$1 expected=$2 got=$3"
        fi
}

# to_host NAME FILE: copies FILE as hex to the second serial port, framed for the host.
to_host() {
        [ -c /dev/ttyS1 ] || return 1
        {
                echo "=== BEGIN $1"
                od -An -v -tx1 <"$2" | tr -d ' \n' | fold -w 128
                echo
                echo "=== END $1"
        } >/dev/ttyS1
}

# text_to_host NAME FILE: the same for a text file, as is.
text_to_host() {
        [ -c /dev/ttyS1 ] || return 1
        {
                echo "=== BEGIN $1"
                cat "$2"
                echo "=== END $1"
        } >/dev/ttyS1
}

mount_securityfs() {
        [ -d /sys/kernel/security/tpm0 ] || [ -d /sys/kernel/security/ima ] && return 0
        mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
}

# cmdline_arg NAME: prints the value of NAME=VALUE on the kernel command line (empty if absent).
cmdline_arg() {
        for _a in $(cat /proc/cmdline); do
                case $_a in
                "$1"=*) echo "${_a#*=}" ;;
                esac
        done
}
