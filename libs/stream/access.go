package stream

import (
	"slices"

	"github.com/acube/platform/libs/events"
)

// Every service connects to NATS as a user of its own (an NKey), and the
// server lets each user do exactly what its service does and nothing
// else. Access says what that is, in the terms of the catalog (streams,
// subjects, durable consumers, buckets); Permissions turns it into the
// subjects the server checks. The server's accounts block is rendered
// from this table (ServerAccounts), so the deployed configuration and the
// code cannot drift apart unnoticed: tools/internal/manifests compares it
// with deploy/k8s/infra/nats/values.yaml, and access_test.go runs the real
// consumers, relay and declarations of libs under these permissions.

// Durable is a durable consumer a service runs (libs/consume).
type Durable struct {
	// Stream the consumer reads.
	Stream string
	// Name of the durable; its dead letters go to deadletter.<Name>.
	Name string
	// Filter is the consumer's one filter subject. The create request
	// then names it and the server refuses any other filter, so the
	// service reads only that part of the stream. "" means the consumer
	// has several filters, which the create request cannot name: the
	// service may then create the durable with any filter on Stream.
	Filter string
}

// Read is a stream a service replays with ordered consumers of its own
// (ephemeral, named by the library), restricted to Filter.
type Read struct {
	Stream string
	Filter string
}

// Access is what one service does on NATS.
type Access struct {
	// Service names the identity: the NATS user, the connection name and
	// the inbox prefix (InboxPrefix).
	Service string
	// Owns are the streams the service declares in full: it may create
	// and update them (Ensure).
	Owns []string
	// Creates are the streams it declares create-only (Spec.IfMissing):
	// it may create them while they are missing, never change them.
	Creates []string
	// Publishes are the subjects its outbox and its handlers publish to.
	Publishes []string
	// Durables are its durable consumers; each may also publish its dead
	// letters.
	Durables []Durable
	// Reads are streams it replays with ordered consumers.
	Reads []Read
	// Letters are streams whose messages it gets and deletes by sequence:
	// the admin's dead-letter API.
	Letters []string
	// Buckets are the Object Store buckets it owns (BucketSpec names).
	Buckets []string
	// Everything marks the operators' identity (nats-box): it may publish
	// and subscribe to anything in the account, for `nats stream edit` and
	// the like. No service holds it.
	Everything bool
}

// Ops is the identity of the operators' nats-box.
const Ops = "ops"

// Identities lists the platform's NATS users: the four services that use
// NATS (the gateway does not) and the operators'. The durable names and
// filters restate those the services pass to libs/consume; a service
// whose consumer is missing here never binds it, which its start-up test
// under its identity shows (services/booking/cmd/booking).
func Identities() []Access {
	booking, admin, audit, exporter, deadLetter := Booking(1).Name, Admin(1).Name, Audit(1).Name, Exporter(1).Name, DeadLetter(1).Name
	// The admin's token revocations, which the services that verify admin
	// tokens follow (libs/authn).
	revocations := Read{Stream: admin, Filter: events.TypeSessionsRevoked}
	return []Access{
		{
			Service:   "booking",
			Owns:      []string{booking},
			Creates:   []string{audit, deadLetter},
			Publishes: []string{"booking.>", "audit.>"},
			Durables:  []Durable{{Stream: admin, Name: "booking-jobs", Filter: events.TypeJobRequested}},
			Reads:     []Read{revocations},
			Buckets:   []string{EventImages(1).Name},
		},
		{
			Service: "admin",
			Owns:    []string{admin, audit, deadLetter},
			// Its own events, and the original subjects of the dead
			// letters it replays (the consumers' streams).
			Publishes: []string{"admin.>", "audit.>", "booking.>"},
			Durables: []Durable{
				{Stream: audit, Name: "admin-audit", Filter: "audit.>"},
				{Stream: booking, Name: "admin-jobs", Filter: "booking.job.>"},
			},
			Letters: []string{deadLetter},
		},
		{
			Service: "mailer",
			Creates: []string{deadLetter},
			Durables: []Durable{
				{Stream: booking, Name: "mailer-booking"},
				{Stream: admin, Name: "mailer-admin"},
				{Stream: exporter, Name: "mailer-exporter", Filter: events.TypeExportCompleted},
			},
		},
		{
			Service:   "exporter",
			Owns:      []string{exporter},
			Creates:   []string{audit, deadLetter},
			Publishes: []string{"exporter.>", "audit.>"},
			Durables:  []Durable{{Stream: audit, Name: "exporter-audit", Filter: "audit.>"}},
			Reads:     []Read{{Stream: audit, Filter: "audit.>"}, revocations},
			Buckets:   []string{ExportFiles(1, 0).Name},
		},
		{Service: Ops, Everything: true},
	}
}

// Services lists the names of the identities, in the order of Identities.
func Services() []string {
	var out []string
	for _, a := range Identities() {
		out = append(out, a.Service)
	}
	return out
}

// SubjectRule is a NATS allow and deny list; deny wins.
type SubjectRule struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

// Permissions are what a NATS user may publish (including JetStream API
// requests and acknowledgements, which are publishes) and subscribe to.
type Permissions struct {
	Publish   SubjectRule `json:"publish"`
	Subscribe SubjectRule `json:"subscribe"`
}

// jsAPI prefixes the JetStream API subjects.
const jsAPI = "$JS.API."

// Permissions derives what the server lets a's user do: publish its
// subjects, its dead letters and the JetStream API requests its
// declarations, consumers and reads make, each naming its own streams and
// consumers; receive replies under its own inbox prefix only. Nothing
// else: no stream deletes or purges, no other service's consumers, no
// core subscriptions. others are all identities, for the consumers of
// other services that a wildcard in a's rules must not reach.
func (a Access) Permissions(others []Access) Permissions {
	if a.Everything {
		return Permissions{Publish: SubjectRule{Allow: []string{">"}}, Subscribe: SubjectRule{Allow: []string{">"}}}
	}
	var pub, deny []string
	add := func(subjects ...string) {
		for _, s := range subjects {
			if !slices.Contains(pub, s) {
				pub = append(pub, s)
			}
		}
	}
	add(a.Publishes...)
	if len(a.Publishes) > 0 {
		// The outbox relay asks which stream holds a subject that no
		// stream acknowledged (libs/outbox classify).
		add(jsAPI + "STREAM.NAMES")
	}
	for _, s := range a.Owns {
		add(jsAPI+"STREAM.INFO."+s, jsAPI+"STREAM.CREATE."+s, jsAPI+"STREAM.UPDATE."+s)
	}
	for _, s := range a.Creates {
		add(jsAPI+"STREAM.INFO."+s, jsAPI+"STREAM.CREATE."+s)
	}
	for _, d := range a.Durables {
		create := jsAPI + "CONSUMER.CREATE." + d.Stream + "." + d.Name
		if d.Filter != "" {
			create += "." + d.Filter
		}
		add(jsAPI+"STREAM.INFO."+d.Stream, create,
			jsAPI+"CONSUMER.INFO."+d.Stream+"."+d.Name,
			jsAPI+"CONSUMER.MSG.NEXT."+d.Stream+"."+d.Name,
			jsAPI+"CONSUMER.UNPIN."+d.Stream+"."+d.Name,
			"$JS.ACK."+d.Stream+"."+d.Name+".>",
			deadLetterPrefix+d.Name)
	}
	for _, r := range a.Reads {
		// The library names ordered consumers itself, so the rules name
		// any consumer of the stream: the other services' durables on it
		// are denied below.
		add(jsAPI+"STREAM.INFO."+r.Stream,
			jsAPI+"CONSUMER.CREATE."+r.Stream+".*."+r.Filter,
			jsAPI+"CONSUMER.INFO."+r.Stream+".*",
			jsAPI+"CONSUMER.MSG.NEXT."+r.Stream+".*",
			jsAPI+"CONSUMER.DELETE."+r.Stream+".*")
		for _, o := range others {
			if o.Service == a.Service {
				continue
			}
			for _, d := range o.Durables {
				if d.Stream != r.Stream {
					continue
				}
				deny = append(deny,
					jsAPI+"CONSUMER.CREATE."+d.Stream+"."+d.Name+".>",
					jsAPI+"CONSUMER.INFO."+d.Stream+"."+d.Name,
					jsAPI+"CONSUMER.MSG.NEXT."+d.Stream+"."+d.Name,
					jsAPI+"CONSUMER.DELETE."+d.Stream+"."+d.Name)
			}
		}
	}
	for _, s := range a.Letters {
		add(jsAPI+"STREAM.INFO."+s, jsAPI+"STREAM.MSG.GET."+s, jsAPI+"STREAM.MSG.DELETE."+s)
	}
	for _, b := range a.Buckets {
		add(bucketSubjects(b)...)
	}
	return Permissions{
		Publish:   SubjectRule{Allow: pub, Deny: deny},
		Subscribe: SubjectRule{Allow: []string{InboxPrefix(a.Service) + ".>"}},
	}
}

// deadLetterPrefix is libs/consume's DeadLetterPrefix (consume imports
// nothing of this package, nor this of it).
const deadLetterPrefix = "deadletter."

// bucketSubjects are what the owner of Object Store bucket b uses: the
// bucket's stream (declare, read its state, purge an object's chunks on
// delete), its chunk and metadata subjects, metadata look-ups by subject
// (direct gets: object stores allow them), and the ordered push consumers
// a get reads the chunks with, created and deleted by the library, with
// their flow-control answers (a read of more than a few megabytes stalls
// without them). The bucket's stream holds nothing else, so the rules
// name any consumer of it.
func bucketSubjects(b string) []string {
	s := "OBJ_" + b
	return []string{
		jsAPI + "STREAM.INFO." + s, jsAPI + "STREAM.CREATE." + s, jsAPI + "STREAM.UPDATE." + s,
		jsAPI + "STREAM.PURGE." + s, jsAPI + "DIRECT.GET." + s, jsAPI + "DIRECT.GET." + s + ".>",
		jsAPI + "CONSUMER.CREATE." + s + ".>", jsAPI + "CONSUMER.DELETE." + s + ".*",
		"$O." + b + ".>", "$JS.FC." + s + ".>",
	}
}
