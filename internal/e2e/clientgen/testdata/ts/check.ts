// Type-checked, never run: the calls a host makes through openapi-fetch
// with the types openapi-typescript generates from the served document
// (schema.d.ts, written next to this file by clientgen_test.go). In
// mistakes, each expected error is one the types must refuse: if they let
// it through, tsc reports the directive as unused and the check fails.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Invite = components["schemas"]["Invite"];
type ProblemCode = components["schemas"]["ProblemCode"];
type Link = components["schemas"]["Link"];
type LinkStatus = components["schemas"]["LinkStatus"];

const api = createClient<paths>({
  baseUrl: "https://app.example/api/invites/",
  headers: { Authorization: "Bearer alice" },
});

export async function lifecycle(): Promise<Invite | undefined> {
  const sent = await api.POST("/", {
    body: { userInvites: [{ email: "ann@acme.com", firstName: "Ann", data: { team: "core" } }, { email: "nope" }] },
  });
  if (sent.error) {
    const code: ProblemCode = sent.error.code;
    console.log(code, sent.error.detail);
    return undefined;
  }
  for (const e of sent.data.errors) {
    const itemCode: "invalid_email" | ProblemCode | "already_member" | "quota_exceeded" | "address_limit" |
      "invalid_name" | "invalid_locale" | "invalid_data" | "invalid_roles" | "duplicate_in_batch" |
      "invalid_channel" | "invalid_ttl" = e.code;
    console.log(e.index, itemCode);
  }
  const ann: Invite = sent.data.success[0];

  const page = await api.GET("/", {
    params: { query: { "email[iLike]": "%@acme.com", "status[valueIn]": "pending,expired", order: "-email", limit: 1 } },
  });
  const next: string | undefined = page.data?.nextCursor;
  await api.GET("/", { params: { query: { cursor: next, order: "-email", limit: 1 } } });

  // null clears the data; leaving it out leaves it as it is.
  const updated = await api.PATCH("/{id}", { params: { path: { id: ann.id } }, body: { data: null } });
  const data: { [key: string]: unknown } | null | undefined = updated.data?.data;
  console.log(data);
  await api.PATCH("/{id}", { params: { path: { id: ann.id } }, body: { lastName: "Lee", data: { team: "ops" } } });

  const accepted = await api.POST("/accept", { body: { token: "from-the-link" } });
  if (accepted.error) {
    switch (accepted.error.code) {
      case "not_pending":
      case "expired":
      case "invalid_token":
        break;
    }
    return undefined;
  }
  // The outcome is explicit: isValid is false once the link is used.
  const took: boolean = accepted.data.accepted;
  const status: components["schemas"]["Status"] | undefined = accepted.data.status;
  console.log(took, status, accepted.data.isValid);

  // A retry under the same Idempotency-Key gets the first answer; the
  // key reused for another request is a 422.
  const key = { "Idempotency-Key": '"6f1d1c0e-0b8a-4c36-9d5e-0c3b2f6a9e11"' };
  const resent = await api.POST("/{id}/resend", { params: { path: { id: ann.id }, header: key }, body: {} });
  if (resent.error?.code === "idempotency_key_reused") {
    console.log(resent.error.field);
  }

  // An invite the host delivers: its link is in the answer, once.
  const hosted = await api.POST("/", { body: { userInvites: [{ email: "eve@acme.com", channel: "host", ttlSeconds: 7200 }] } });
  const links: Record<string, string> | undefined = hosted.data?.links;
  const rotated = await api.POST("/{id}/resend", { params: { path: { id: ann.id } }, body: { channel: "host", ttlSeconds: 3600 } });
  const link: string | undefined = rotated.data?.link;
  if (rotated.error?.code === "link_not_kept") {
    console.log(rotated.error.detail);
  }
  console.log(links, link);

  const erased = await api.POST("/forget", { params: { header: key }, body: { email: "dan@other.io" } });
  const ids: string[] | undefined = erased.data?.inviteIds;
  console.log(ids);
  return ann;
}

// Shareable links: made, checked by their holder, joined, listed, read,
// rotated and revoked, one by one and by their creator.
export async function links(): Promise<Link | undefined> {
  const made = await api.POST("/links", {
    body: { roles: ["member"], maxUses: 2, ttlSeconds: 3600, allowedDomains: ["partner.io"], note: "chat" },
  });
  if (made.error) {
    if (made.error.code === "forbidden_role") {
      console.log(made.error.field);
    }
    return undefined;
  }
  // The token and url are in this answer only.
  const token: string = made.data.token;
  const url: string | undefined = made.data.url;
  const link: Link = made.data.link;
  const uses: number = link.uses;
  console.log(url, uses, link.maxUses, link.allowedDomains, link.note, link.createdByUserId);
  await api.POST("/links", { body: { maxUses: 1, expiresAt: "2030-01-02T03:04:05Z" } });

  // The holder's check needs no actor.
  const checked = await api.POST("/links/check", { body: { token } });
  const valid: boolean | undefined = checked.data?.isValid;
  const status: LinkStatus | undefined = checked.data?.status;
  const view: { [key: string]: unknown } | undefined = checked.data?.view;
  console.log(valid, status, view);

  const joined = await api.POST("/links/join", { body: { token } });
  if (joined.error) {
    switch (joined.error.code) {
      case "link_revoked":
      case "link_exhausted":
      case "link_expired":
      case "already_joined":
      case "already_member":
      case "domain_not_allowed":
      case "link_rate_limited":
      case "invalid_token":
        console.log(joined.error.detail);
        break;
    }
  } else {
    const tenantId: string = joined.data.tenantId;
    const roles: string[] = joined.data.roles;
    const took: boolean = joined.data.joined;
    console.log(tenantId, roles, took);
  }

  const page = await api.GET("/links", {
    params: { query: { status: "active,exhausted", createdByUserId: "u-alice", limit: 1 } },
  });
  const listed: Link[] | undefined = page.data?.data;
  await api.GET("/links", { params: { query: { status: "active,exhausted", cursor: page.data?.nextCursor, limit: 1 } } });
  const one = await api.GET("/links/{id}", { params: { path: { id: link.id } } });
  const now: LinkStatus | undefined = one.data?.status;
  const used = await api.GET("/links/{id}/uses", { params: { path: { id: link.id } } });
  const who: string[] | undefined = used.data?.data.map((u) => u.userId + " at " + u.at);
  const history = await api.GET("/links/{id}/events", { params: { path: { id: link.id } } });
  const types: ("link_created" | "link_used" | "link_revoked")[] | undefined = history.data?.data.map((e) => e.type);
  console.log(listed, now, who, types);

  // Rotation answers a new link with its token, once.
  const rotated = await api.POST("/links/{id}/rotate", { params: { path: { id: link.id } }, body: {} });
  const fresh: string | undefined = rotated.data?.token;
  const revoked = await api.POST("/links/{id}/revoke", { params: { path: { id: link.id } } });
  if (revoked.error?.code === "link_revoked") {
    console.log(revoked.error.detail);
  }
  const revokedAt: string | undefined = revoked.data?.revokedAt;
  const revokedBy: string | undefined = revoked.data?.revokedByUserId;
  const gone = await api.POST("/links/revoke", { body: { createdByUserId: "u-carl" } });
  const ended: Link[] | undefined = gone.data?.data;
  console.log(fresh, revokedAt, revokedBy, ended);
  return rotated.data?.link;
}

export async function mistakes(id: string): Promise<void> {
  // @ts-expect-error data is an object or null
  await api.PATCH("/{id}", { params: { path: { id } }, body: { data: "core" } });
  // @ts-expect-error no such order
  await api.GET("/", { params: { query: { order: "nickname" } } });
  // @ts-expect-error accept takes a token
  await api.POST("/accept", { body: {} });
  // @ts-expect-error a read takes no Idempotency-Key
  await api.POST("/check", { params: { header: { "Idempotency-Key": "k" } }, body: { token: "t" } });
  // @ts-expect-error the key is a string
  await api.POST("/decline", { params: { header: { "Idempotency-Key": 7 } }, body: { token: "t" } });
  // @ts-expect-error the channel is email or host
  await api.POST("/", { body: { userInvites: [{ email: "e@acme.com", channel: "sms" }] } });
  // @ts-expect-error forget takes an email
  await api.POST("/forget", { body: { id } });
  // @ts-expect-error a link needs maxUses
  await api.POST("/links", { body: { note: "n" } });
  // @ts-expect-error maxUses is a number
  await api.POST("/links", { body: { maxUses: "2" } });
  // @ts-expect-error join takes a token
  await api.POST("/links/join", { body: {} });
  // @ts-expect-error revoke by creator names the creator
  await api.POST("/links/revoke", { body: { userId: "u-carl" } });
  // @ts-expect-error the limit is a number
  await api.GET("/links", { params: { query: { limit: "1" } } });
  // @ts-expect-error no such link status
  const deleted: LinkStatus = "deleted";
  console.log(deleted);
  const res = await api.POST("/decline", { body: { token: "t" } });
  if (res.error) {
    // @ts-expect-error the code is one of the document's
    const c: "no_such_code" = res.error.code;
    console.log(c);
  }
}
