/** Expected events of the unified format against the events a client recorded. */
import { BSON, type Document } from 'mongodb';
import { EVENT_NAMES, Unsupported, type ClientEntity, type Entities, type RecordedEvent } from './entities.ts';
import { match, MatchError } from './match.ts';

/** Whether a recorded event is the one `expected` describes (waitForEvent, assertEventCount). */
export function eventMatches(expected: Document, recorded: RecordedEvent, entities: Entities): boolean {
  const [type, fields] = Object.entries(expected)[0] as [string, Document];
  if (type !== recorded.type) return false;
  try {
    matchEventFields(fields, recorded, entities);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Node driver puts wtimeout: 10000 on every commit and abort that carries
 * a write concern (its sessions.js); the spec's events do not expect it. Left
 * out of the comparison when the expected write concern does not name it.
 */
function withoutNodeWtimeout(expected: Document, command: Document): Document {
  const wc = command.writeConcern as Document | undefined;
  const name = Object.keys(command)[0];
  if (!wc || !('wtimeout' in wc) || (name !== 'commitTransaction' && name !== 'abortTransaction')) return command;
  const wanted = expected.writeConcern as Document | undefined;
  if (wanted && typeof wanted === 'object' && 'wtimeout' in wanted) return command;
  const { wtimeout: _dropped, ...rest } = wc;
  return { ...command, writeConcern: rest };
}

function matchEventFields(fields: Document, recorded: RecordedEvent, entities: Entities): void {
  const event = recorded.event;
  for (const [key, value] of Object.entries(fields)) {
    switch (key) {
      case 'command':
        match(value, withoutNodeWtimeout(value as Document, event.command as Document), entities, true, `${recorded.type}.command`);
        break;
      case 'reply':
        match(value, event.reply, entities, true, `${recorded.type}.reply`);
        break;
      case 'commandName':
      case 'databaseName':
        if (event[key] !== value) throw new MatchError(`${recorded.type}.${key}: expected ${value}, got ${event[key]}`);
        break;
      case 'hasServiceId':
        if ((event.serviceId !== undefined) !== value) throw new MatchError(`${recorded.type}.hasServiceId`);
        break;
      case 'hasServerConnectionId':
        if ((event.serverConnectionId != null) !== value) throw new MatchError(`${recorded.type}.hasServerConnectionId`);
        break;
      case 'interruptInUseConnections':
        if (Boolean(event.interruptInUseConnections) !== value) throw new MatchError(`${recorded.type}.interruptInUseConnections`);
        break;
      case 'reason':
        if (event.reason !== value) throw new MatchError(`${recorded.type}.reason: ${event.reason}`);
        break;
      case 'awaited':
        if (event.awaited !== value) throw new MatchError(`${recorded.type}.awaited`);
        break;
      case 'newDescription':
      case 'previousDescription':
        if ((value as Document).type !== undefined && event[key]?.type !== (value as Document).type) {
          throw new MatchError(`${recorded.type}.${key}.type: ${event[key]?.type}`);
        }
        break;
      default:
        throw new Unsupported(`event field ${key}`);
    }
  }
}

export function expectEvents(expectations: Document[], entities: Entities): void {
  for (const expectation of expectations) {
    const client = entities.of(expectation.client as string, 'client') as ClientEntity;
    const category = (expectation.eventType as string | undefined) ?? 'command';
    const actual = client.events.filter((e) => EVENT_NAMES[e.type]?.category === category);
    const expected = expectation.events as Document[];
    const label = `events of ${expectation.client}`;
    if (actual.length < expected.length || (!expectation.ignoreExtraEvents && actual.length !== expected.length)) {
      throw new MatchError(
        `${label}: expected ${expected.length} ${category} events, got ${actual.length}: ${actual.map((e) => `${e.type}(${e.event.commandName ?? ''})`).join(', ')}`,
      );
    }
    expected.forEach((event, i) => {
      const [type, fields] = Object.entries(event)[0] as [string, Document];
      const got = actual[i] as RecordedEvent;
      if (got.type !== type) throw new MatchError(`${label}[${i}]: expected ${type}, got ${got.type}(${got.event.commandName ?? ''})`);
      try {
        matchEventFields(fields, got, entities);
      } catch (err) {
        if (err instanceof MatchError)
          throw new MatchError(`${label}[${i}] ${err.message}; actual ${safe(got.event.command ?? got.event.reply)}`);
        throw err;
      }
    });
  }
}

function safe(v: unknown): string {
  try {
    const text = BSON.EJSON.stringify(v as Document, { relaxed: true });
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(v);
  }
}
