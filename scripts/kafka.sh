#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft: broker and controller in one JVM) for tests.
# The jars come from Maven Central (kafka_2.13 and its runtime dependencies, with a log4j2
# binding so the broker logs to a file); nothing is committed: they live in .deps/kafka/<version>.
#
# Usage:
#   scripts/kafka.sh fetch             download the pinned version (idempotent)
#   scripts/kafka.sh start DIR [PORT]  format DIR (first time) and start a broker on 127.0.0.1:PORT
#                                      (default: the port DIR used before, else a free one); returns
#                                      once it accepts connections; pid in DIR/kafka.pid, port in
#                                      DIR/kafka.port
#   scripts/kafka.sh stop DIR          SIGTERM, then SIGKILL after a bounded wait
#
# A restart (stop, then start with the same DIR and PORT) keeps the data: the storage is formatted
# once and the controller port is kept in DIR/controller.port.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/deps.env"
: "${KAFKA_VERSION:?KAFKA_VERSION missing from scripts/deps.env}"
jars="$root/.deps/kafka/$KAFKA_VERSION"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"  # seconds until the broker must accept connections
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"    # seconds after SIGTERM before SIGKILL

log() { printf '[kafka] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

fetch() {
  if [[ -f "$jars/.complete" ]]; then return 0; fi
  command -v mvn >/dev/null || die "maven (mvn) is not installed: run scripts/setup.sh --test"
  log "fetching Apache Kafka $KAFKA_VERSION (kafka_2.13 and its runtime dependencies) from Maven Central"
  local tmp; tmp="$(mktemp -d)"
  cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cryptolake</groupId>
  <artifactId>kafka-test-broker</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$KAFKA_LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$KAFKA_LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  mkdir -p "$jars.partial"
  (cd "$tmp" && mvn -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$jars.partial" >"$tmp/mvn.log" 2>&1) ||
    die "mvn could not fetch kafka_2.13 $KAFKA_VERSION: $(grep -E 'ERROR' "$tmp/mvn.log" | head -n 10)"
  ls "$jars.partial"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null || die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"
  rm -rf "$jars" "$tmp"; mv "$jars.partial" "$jars"; touch "$jars/.complete"
  log "Kafka $KAFKA_VERSION in .deps/kafka/$KAFKA_VERSION ($(ls "$jars" | wc -l) jars)"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

alive() { [[ -f "$1/kafka.pid" ]] && kill -0 "$(cat "$1/kafka.pid")" 2>/dev/null; }

java_cmd() {
  local dir="$1"; shift
  ${KAFKA_EXEC:-} java -Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -Dkafka.logs.dir="$dir/logs" -cp "$jars/*" "$@"
}

start() {
  local dir="${1:?usage: kafka.sh start DIR [PORT]}" port="${2:-0}"
  [[ -f "$jars/.complete" ]] || fetch
  command -v java >/dev/null || die "java is not installed: run scripts/setup.sh --test"
  mkdir -p "$dir/logs"; dir="$(cd "$dir" && pwd)"
  alive "$dir" && die "a broker is already running from $dir (pid $(cat "$dir/kafka.pid"))"
  if [[ "$port" == 0 ]]; then
    if [[ -f "$dir/kafka.port" ]]; then port="$(cat "$dir/kafka.port")"; else port="$(free_port)"; fi
  fi
  port_open "$port" && die "127.0.0.1:$port is already taken"
  echo "$port" >"$dir/kafka.port"
  local cport
  if [[ -f "$dir/controller.port" ]]; then cport="$(cat "$dir/controller.port")"
  else cport="$(free_port)"; echo "$cport" >"$dir/controller.port"; fi
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.flush.interval.messages=1
EOF
  cat >"$dir/log4j2.properties" <<EOF
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $dir/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = org.apache.kafka
logger.kafka.level = INFO
EOF
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cid; cid="$(java_cmd "$dir" kafka.tools.StorageTool random-uuid 2>>"$dir/logs/format.log" | tail -n1)"
    [[ -n "$cid" ]] || die "could not generate a cluster id: $(tail -n 20 "$dir/logs/format.log")"
    java_cmd "$dir" kafka.tools.StorageTool format -t "$cid" -c "$dir/server.properties" \
      >>"$dir/logs/format.log" 2>&1 || die "formatting $dir/data failed: $(tail -n 20 "$dir/logs/format.log")"
  fi
  # setsid: the broker outlives the calling shell and ignores the caller's process-group signals.
  setsid bash "$root/scripts/kafka.sh" __run "$dir" >>"$dir/logs/stdout.log" 2>&1 < /dev/null &
  echo $! >"$dir/kafka.pid"
  local deadline=$((SECONDS + START_TIMEOUT))
  until port_open "$port"; do
    if ! alive "$dir"; then
      die "the broker exited during start-up; last lines of $dir/logs:
$(tail -n 30 "$dir/logs/server.log" "$dir/logs/stdout.log" 2>/dev/null)"
    fi
    if (( SECONDS >= deadline )); then
      kill -KILL "$(cat "$dir/kafka.pid")" 2>/dev/null || true
      die "the broker did not accept connections on 127.0.0.1:$port within ${START_TIMEOUT}s; last lines of $dir/logs:
$(tail -n 30 "$dir/logs/server.log" "$dir/logs/stdout.log" 2>/dev/null)"
    fi
    sleep 0.2
  done
  # The socket server opens before the broker has caught up with the controller; wait for it.
  until grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null; do
    alive "$dir" || die "the broker exited during start-up: $(tail -n 30 "$dir/logs/server.log")"
    (( SECONDS < deadline )) || die "the broker did not finish starting within ${START_TIMEOUT}s: $(tail -n 30 "$dir/logs/server.log")"
    sleep 0.2
  done
  log "broker up on 127.0.0.1:$port (controller $cport, pid $(cat "$dir/kafka.pid"), dir $dir)"
}

stop() {
  local dir="${1:?usage: kafka.sh stop DIR}"
  [[ -f "$dir/kafka.pid" ]] || { log "no broker pid in $dir"; return 0; }
  local pid; pid="$(cat "$dir/kafka.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker $pid still running ${STOP_TIMEOUT}s after SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  fi
  rm -f "$dir/kafka.pid"
  log "broker stopped ($dir)"
}

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  __run) shift; KAFKA_EXEC=exec java_cmd "$1" kafka.Kafka "$1/server.properties" ;;  # internal: the broker JVM
  *) echo "usage: $0 fetch | start DIR [PORT] | stop DIR" >&2; exit 2 ;;
esac
