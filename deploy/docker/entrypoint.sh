#!/bin/sh
# The container's command: `gazeserve serve` with GAZE_PROCESSES server processes, each running
# MAX_WORKERS inference threads. Either may be "auto": the CPUs this container may use (its
# cgroup CPU quota, else the CPUs it may run on), not the host's CPU count.
# Extra arguments are passed to `gazeserve serve`.
set -eu

cpus() {
    if [ -r /sys/fs/cgroup/cpu.max ]; then
        read -r quota period < /sys/fs/cgroup/cpu.max
        if [ "$quota" != max ] && [ "$period" -gt 0 ]; then
            echo $(( (quota + period - 1) / period ))
            return
        fi
    fi
    nproc
}

processes="${GAZE_PROCESSES:-1}"
if [ "$processes" = auto ]; then
    processes="$(cpus)"
fi
if [ "${MAX_WORKERS:-auto}" = auto ]; then
    MAX_WORKERS="$(cpus)"
fi
export MAX_WORKERS

exec gazeserve serve --workers "$processes" "$@"
