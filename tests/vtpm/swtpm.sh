# Start/stop helpers for a throw-away swtpm on a free loopback port (POSIX sh; source this file).
#
#   swtpm_require           exit 77 (skip) with a printed reason when swtpm is not installed
#   swtpm_start STATEDIR    start swtpm with its state in STATEDIR (created); sets SWTPM_PID,
#                           SWTPM_PORT and SWTPM_TCTI ("swtpm:host=127.0.0.1,port=N"); returns 1
#                           when no instance could be started
#   swtpm_stop              kill the instance started last and wait for it (idempotent)
#
# The caller must call swtpm_stop from its EXIT trap so no swtpm outlives the test.

SWTPM_PID=
SWTPM_PORT=
SWTPM_TCTI=

swtpm_require() {
        if ! command -v swtpm >/dev/null 2>&1; then
                echo "SKIP: swtpm is not installed (apt-get install swtpm swtpm-tools)"
                exit 77
        fi
}

# A pseudo-random even port in 20000..59998 (the control channel uses port+1).
swtpm_random_port() {
        n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
        echo $((20000 + (n % 20000) * 2))
}

swtpm_start() {
        dir=$1
        mkdir -p "$dir" || return 1
        attempt=0
        while [ $attempt -lt 20 ]; do
                attempt=$((attempt + 1))
                port=$(swtpm_random_port)
                rm -f "$dir/swtpm.pid"
                swtpm socket --tpm2 \
                        --server type=tcp,port=$port,bindaddr=127.0.0.1 \
                        --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
                        --tpmstate dir="$dir" --flags not-need-init,startup-clear \
                        --pid file="$dir/swtpm.pid" --log file="$dir/swtpm.log" \
                        </dev/null >/dev/null 2>&1 &
                pid=$!
                # swtpm writes its pid file once both sockets are listening; it exits when a
                # port is taken, then we try another one.
                i=0
                while [ $i -lt 200 ]; do
                        if [ -s "$dir/swtpm.pid" ]; then
                                SWTPM_PID=$pid
                                SWTPM_PORT=$port
                                SWTPM_TCTI="swtpm:host=127.0.0.1,port=$port"
                                return 0
                        fi
                        kill -0 $pid 2>/dev/null || break
                        sleep 0.02
                        i=$((i + 1))
                done
                kill $pid 2>/dev/null
                wait $pid 2>/dev/null
        done
        echo "swtpm_start: could not start swtpm on a free port" >&2
        return 1
}

swtpm_stop() {
        if [ -n "$SWTPM_PID" ]; then
                kill "$SWTPM_PID" 2>/dev/null
                wait "$SWTPM_PID" 2>/dev/null
                SWTPM_PID=
        fi
}
