package codecs

import "fmt"

// Topic is the name of a Kafka topic of the pipeline.
type Topic string

// Group is the name of a Kafka consumer group (for goka, also the name of its group table).
type Group string

// The topics and groups of the pipeline. Every name the stages use is declared here.
const (
	// WeaponDataTopic carries the raw weapon rows from the scraper (RawRecord).
	WeaponDataTopic Topic = "weapon_data"
	// DeadLetterTopic carries what the processor could not parse or validate (DeadLetter).
	DeadLetterTopic Topic = "weapon_data.dlq"
	// PartnerTopic carries the partner (Partnyaa) weapons, whatever their class.
	PartnerTopic Topic = "weapons.partner"

	// RouterGroup is the processor's group; its group table holds the DedupState of each key.
	RouterGroup Group = "weapon-router"
	// SinkConsumer names the sink in the kafka_offsets table and as a Kafka consumer group.
	SinkConsumer Group = "weapon-sink"
)

// weaponTopicPrefix prefixes the per-type topics: weapons.long_sword, weapons.bow, ...
const weaponTopicPrefix = "weapons."

// TypeTopic is the topic of the typed weapons of one type (partner weapons excluded).
func TypeTopic(t WeaponType) Topic { return Topic(weaponTopicPrefix + string(t)) }

// WeaponTopics lists every topic that carries typed weapons: one per type, then the partners'.
func WeaponTopics() []Topic {
	topics := make([]Topic, 0, len(WeaponTypes)+1)
	for _, t := range WeaponTypes {
		topics = append(topics, TypeTopic(t))
	}
	return append(topics, PartnerTopic)
}

// RouteTopic is the topic a typed weapon of this type and page kind is routed to.
func RouteTopic(t WeaponType, kind PageKind) (Topic, error) {
	if !t.Valid() {
		return "", fmt.Errorf("route: unknown weapon type %q", t)
	}
	if kind == KindPartner {
		return PartnerTopic, nil
	}
	return TypeTopic(t), nil
}
