// Which blast recipient a person's message answers. A message that quotes one of ours answers
// that one, whenever it comes; otherwise it answers the latest blast message this account sent
// that number, if it was sent within the reply window. Anything else is a conversation of its
// own, not a reply to a campaign.

/** One of our blast messages, as remembered for attributing replies. */
export interface SentMessageRef {
  readonly blastId: string;
  readonly idx: number;
  /** E.164, as the message was addressed. */
  readonly phone: string;
  /** When it was sent (ms); unknown for receipt mappings written before it was kept. */
  readonly at?: number;
}

export interface ReplyContext {
  /** The person's E.164 number; undefined when WhatsApp gave only an unresolved LID. */
  readonly phone: string | undefined;
  /** Our message the person's message quotes, if it quotes one we know. */
  readonly quoted?: SentMessageRef;
  /** The latest blast message this account sent the person, if one is remembered. */
  readonly lastSent?: SentMessageRef;
  readonly now: number;
  readonly windowMs: number;
}

export function attributeReply(context: ReplyContext): { blastId: string; idx: number } | undefined {
  const { phone, quoted, lastSent } = context;
  // A quote of a message that went to someone else (a forwarded screenshot, a group) is no reply.
  if (quoted && (phone === undefined || quoted.phone === phone)) {
    return { blastId: quoted.blastId, idx: quoted.idx };
  }
  if (phone === undefined || !lastSent || lastSent.phone !== phone || lastSent.at === undefined)
    return undefined;
  const age = context.now - lastSent.at;
  if (age < 0 || age > context.windowMs) return undefined;
  return { blastId: lastSent.blastId, idx: lastSent.idx };
}
