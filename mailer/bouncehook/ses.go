package bouncehook

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// sesNotification is the SES notification an SNS Notification carries:
// notificationType for identity notifications, eventType for a
// configuration set's event publishing.
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		Timestamp         string `json:"timestamp"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint struct {
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		Timestamp             string `json:"timestamp"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Mail struct {
		MessageID string `json:"messageId"`
		Headers   []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
	} `json:"mail"`
}

// sesEvents reads the SES notification in m, a verified Notification:
// one event by m's MessageId, with a Notice per bounced or complaining
// recipient; none for a transient or undetermined bounce, a delivery, or
// any other type.
func sesEvents(m snsMessage) ([]event, error) {
	var n sesNotification
	if err := json.Unmarshal([]byte(m.Message), &n); err != nil {
		return nil, errors.New("bouncehook: the SNS message holds no SES notification")
	}
	base := Notice{Provider: ProviderSES, MessageID: n.messageID(), EventID: m.MessageID}
	e := event{id: m.MessageID}
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	switch typ {
	case "Bounce":
		if n.Bounce.BounceType != "Permanent" {
			break
		}
		base.Kind, base.At = KindBounce, parseTime(n.Bounce.Timestamp)
		for _, r := range n.Bounce.BouncedRecipients {
			nt := base
			nt.Address = r.EmailAddress
			nt.Reason = firstOf(r.DiagnosticCode, r.Status, n.Bounce.BounceSubType)
			e.notices = append(e.notices, nt)
		}
	case "Complaint":
		base.Kind, base.At = KindComplaint, parseTime(n.Complaint.Timestamp)
		base.Reason = n.Complaint.ComplaintFeedbackType
		for _, r := range n.Complaint.ComplainedRecipients {
			nt := base
			nt.Address = r.EmailAddress
			e.notices = append(e.notices, nt)
		}
	}
	return []event{e}, nil
}

// messageID is the email's own Message-ID, which SES replaces when it
// sends: the notification has it in mail.headers and mail.commonHeaders
// only when the identity includes the original headers. Without them
// it is SES's id, which no mailer of this module minted.
func (n *sesNotification) messageID() string {
	for _, h := range n.Mail.Headers {
		if strings.EqualFold(h.Name, "Message-ID") {
			return h.Value
		}
	}
	return firstOf(n.Mail.CommonHeaders.MessageID, n.Mail.MessageID)
}

// parseTime reads an RFC 3339 time; zero when s is not one.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// firstOf returns the first of ss that is not empty.
func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
