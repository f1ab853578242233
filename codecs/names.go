package codecs

import "fmt"

// Topic is the name of a Kafka topic of the pipeline.
type Topic string

// Group is the name of a Kafka consumer group (for goka, also the name of its group table).
type Group string

// The topics and groups of the pipeline. Every name the stages use is declared here; a
// deployment (or a test) may put a prefix before all of them with Names.
const (
	// WeaponDataTopic carries the raw weapon rows from the scraper (RawRecord).
	WeaponDataTopic Topic = "weapon_data"
	// DeadLetterTopic carries what the processor could not parse or validate (DeadLetter).
	DeadLetterTopic Topic = "weapon_data.dlq"
	// PartnerTopic carries the partner (Partnyaa) weapons, whatever their class.
	PartnerTopic Topic = "weapons.partner"
	// weaponTopicPrefix prefixes the per-type topics: weapons.long_sword, weapons.bow, ...
	weaponTopicPrefix = "weapons."

	// RouterGroup is the processor's group; its group table holds the DedupState of each key.
	RouterGroup Group = "weapon-router"
	// SinkConsumer names the sink in the kafka_offsets table and as a Kafka consumer group.
	SinkConsumer Group = "weapon-sink"
	// SinkRebuildConsumer names the sink of a re-processing (mhfz reprocess), which fills the
	// rebuilt tables while SinkConsumer's stay as they are.
	SinkRebuildConsumer Group = "weapon-sink-rebuild"
)

// Names are the topic and group names of one deployment of the pipeline: the constants above,
// each preceded by Prefix. The zero value is the production naming; tests use a unique prefix
// so that they never share topics or groups.
type Names struct {
	Prefix string
}

// WeaponData is the topic of the raw records.
func (n Names) WeaponData() Topic { return Topic(n.Prefix) + WeaponDataTopic }

// DeadLetter is the processor's dead-letter topic.
func (n Names) DeadLetter() Topic { return Topic(n.Prefix) + DeadLetterTopic }

// Partner is the topic of the partner weapons.
func (n Names) Partner() Topic { return Topic(n.Prefix) + PartnerTopic }

// Type is the topic of the typed weapons of one type (partner weapons excluded).
func (n Names) Type(t WeaponType) Topic {
	return Topic(n.Prefix + weaponTopicPrefix + string(t))
}

// WeaponTopics lists every topic that carries typed weapons: one per type, then the partners'.
func (n Names) WeaponTopics() []Topic {
	topics := make([]Topic, 0, len(WeaponTypes)+1)
	for _, t := range WeaponTypes {
		topics = append(topics, n.Type(t))
	}
	return append(topics, n.Partner())
}

// Route is the topic a typed weapon of this type and page kind goes to.
func (n Names) Route(t WeaponType, kind PageKind) (Topic, error) {
	if !t.Valid() {
		return "", fmt.Errorf("route: unknown weapon type %q", t)
	}
	if kind == KindPartner {
		return n.Partner(), nil
	}
	return n.Type(t), nil
}

// RouterGroup is the processor's group (and group table).
func (n Names) RouterGroup() Group { return Group(n.Prefix) + RouterGroup }

// SinkConsumer is the sink's name in kafka_offsets and its Kafka consumer group.
func (n Names) SinkConsumer() Group { return Group(n.Prefix) + SinkConsumer }

// SinkRebuildConsumer is the re-processing sink's name in kafka_offsets and its consumer group.
func (n Names) SinkRebuildConsumer() Group { return Group(n.Prefix) + SinkRebuildConsumer }
