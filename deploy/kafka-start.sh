#!/usr/bin/env bash
# The compose `kafka` container's entry point: what SASL/SCRAM needs before the broker can
# authenticate anyone, then the apache/kafka image's own start-up (/etc/kafka/docker/run).
# - The broker's login (JAAS, the inter-broker listener) uses the super user jamsos-admin,
#   whose password is read from the secret file, never from the environment.
# - jamsos-admin's SCRAM-SHA-512 credential is written when the KRaft storage is formatted
#   (the first start only: later starts find the storage formatted and keep it; the image's
#   own format step then finds it formatted too and goes on).
# - A client config for the healthcheck (and `docker compose exec kafka ...`) as jamsos-admin.
set -euo pipefail
password="$(cat /run/secrets/kafka_password_jamsos_admin)"
umask 077
cat > /tmp/kafka_server_jaas.conf <<JAAS
KafkaServer {
  org.apache.kafka.common.security.scram.ScramLoginModule required
  username="jamsos-admin" password="$password";
};
JAAS
export KAFKA_OPTS="-Djava.security.auth.login.config=/tmp/kafka_server_jaas.conf ${KAFKA_OPTS:-}"
cat > /tmp/format.properties <<PROPS
process.roles=$KAFKA_PROCESS_ROLES
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_CONTROLLER_QUORUM_VOTERS
controller.listener.names=$KAFKA_CONTROLLER_LISTENER_NAMES
listeners=$KAFKA_LISTENERS
advertised.listeners=$KAFKA_ADVERTISED_LISTENERS
listener.security.protocol.map=$KAFKA_LISTENER_SECURITY_PROTOCOL_MAP
inter.broker.listener.name=$KAFKA_INTER_BROKER_LISTENER_NAME
sasl.enabled.mechanisms=$KAFKA_SASL_ENABLED_MECHANISMS
sasl.mechanism.inter.broker.protocol=$KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL
log.dirs=$KAFKA_LOG_DIRS
PROPS
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id="$CLUSTER_ID" \
  -c /tmp/format.properties \
  --add-scram "SCRAM-SHA-512=[name=jamsos-admin,password=$password]"
cat > /tmp/jamsos-admin.properties <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="jamsos-admin" password="$password";
PROPS
exec /etc/kafka/docker/run
