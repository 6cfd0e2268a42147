// Package bouncehook receives the bounce and complaint webhooks of mail
// providers: one http.Handler per provider checks the provider's
// signature or credentials before it reads anything of the event, and
// passes each permanent bounce and spam complaint to a Sink as a Notice.
// Transient bounces, deliveries and other events are acknowledged and
// go no further; an event the handler has taken already (by the
// provider's event id) is acknowledged again and not passed on twice.
// Bodies beyond MaxBodyBytes are answered 413 unread.
//
// Recorder is the Sink that records on an invites.Service: a bounce
// fails the email's delivery with RecordBounce (RecordTenantBounce when a
// webhook serves one tenant) and suppresses the address for the tenant;
// a complaint suppresses it for every tenant with RecordComplaint
// (RecordTenantComplaint), leaving the delivery as sent.
//
// # Mounting
//
//	sink := bouncehook.Recorder{Service: svc, Dropped: func(n bouncehook.Notice, err error) {
//		log.Printf("%s %s for %s not recorded: %v", n.Provider, n.Kind, n.MessageID, err)
//	}}
//	ses, err := bouncehook.NewSNS(bouncehook.SNSConfig{
//		Sink:                 sink,
//		TopicARNs:            []string{"arn:aws:sns:eu-west-1:123456789012:ses-feedback"},
//		Client:               &http.Client{Timeout: 10 * time.Second},
//		ConfirmSubscriptions: true,
//	})
//	...
//	postmark, err := bouncehook.NewPostmark(bouncehook.PostmarkConfig{
//		Sink: sink, Username: "postmark", Password: os.Getenv("POSTMARK_HOOK_PASSWORD"),
//	})
//	...
//	sendgrid, err := bouncehook.NewSendGrid(bouncehook.SendGridConfig{
//		Sink: sink, PublicKey: os.Getenv("SENDGRID_VERIFICATION_KEY"),
//	})
//	...
//	mailgun, err := bouncehook.NewMailgun(bouncehook.MailgunConfig{
//		Sink: sink, SigningKey: os.Getenv("MAILGUN_WEBHOOK_SIGNING_KEY"),
//	})
//	...
//	mux.Handle("POST /hooks/ses", ses)
//	mux.Handle("POST /hooks/postmark", postmark)
//	mux.Handle("POST /hooks/sendgrid", sendgrid)
//	mux.Handle("POST /hooks/mailgun", mailgun)
//
// # Providers
//
// Amazon SES: make the SNS topic the identity's (or configuration set's)
// bounce and complaint destination, subscribe https://host/hooks/ses to
// it, and turn on "Include original headers": SES replaces the
// Message-ID it sends with, and gives the mailer's back only among the
// original headers; without them the Notice has SES's id, which Recorder
// drops. The handler fetches each SigningCertURL (https, on an SNS host
// only) through SNSConfig.Client, trusting it for the TLS connection to
// that host, and caches it.
//
// Postmark: add a webhook for Bounce and Spam Complaint with the URL
// https://postmark:password@host/hooks/postmark, or with a secret last
// path segment (PostmarkConfig.PathSecret, mounted as
// "POST /hooks/postmark/{secret}"). Postmark reports its own MessageID;
// the email's Message-ID reaches the webhook only as the metadata
// "message-id", which the SMTP mailer sets with
// mailer.SMTPConfig{MessageIDHeader: "X-PM-Metadata-message-id"}.
//
// SendGrid: turn on the Signed Event Webhook with the events Bounced,
// Dropped and Spam Reports, and give SendGridConfig.PublicKey its
// verification key. Its smtp-id is the email's Message-ID.
//
// Mailgun: add the Permanent Failure and Spam Complaints webhooks, and
// give MailgunConfig.SigningKey the HTTP webhook signing key.
//
// # Answers
//
// Each handler answers 200 for an event taken or ignored and 413 beyond
// MaxBodyBytes. A request that fails verification is 403 (401 for
// Postmark's credentials). When the Sink fails the answer is 503, which
// every provider retries; the events of the request taken before the
// failure are then not passed on again. SNS gets 502 when its
// certificate or SubscribeURL cannot be fetched. A body that is not the
// provider's is 400, except that Postmark gets 403 and Mailgun 406, the
// codes on which they stop retrying.
package bouncehook
