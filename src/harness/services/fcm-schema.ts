/**
 * The fields of an FCM HTTP v1 send request (`{"validate_only"?, "message": Message}`), so that the mock rejects
 * what Google's front end rejects: an unknown field is 400 INVALID_ARGUMENT `Invalid JSON payload received.
 * Unknown name "x" at 'message.android': Cannot find field.`, a value of the wrong type `Invalid value at
 * 'message.token' (TYPE_STRING), 12`, each with a google.rpc.BadRequest field violation. Field names are accepted
 * as in the proto (snake_case) and as JSON names (lowerCamelCase), as Google's JSON parser accepts both.
 */

type Field = 'string' | 'bool' | 'int' | 'strings' | 'ints' | 'map' | 'struct' | 'duration' | Schema;
interface Schema {
  [name: string]: Field;
}

const FCM_OPTIONS: Schema = { analytics_label: 'string' };
const COLOR: Schema = { red: 'int', green: 'int', blue: 'int', alpha: 'int' };
const ANDROID_NOTIFICATION: Schema = {
  title: 'string',
  body: 'string',
  icon: 'string',
  color: 'string',
  sound: 'string',
  tag: 'string',
  click_action: 'string',
  body_loc_key: 'string',
  body_loc_args: 'strings',
  title_loc_key: 'string',
  title_loc_args: 'strings',
  channel_id: 'string',
  ticker: 'string',
  sticky: 'bool',
  event_time: 'string',
  local_only: 'bool',
  notification_priority: 'string',
  default_sound: 'bool',
  default_vibrate_timings: 'bool',
  default_light_settings: 'bool',
  vibrate_timings: 'strings',
  visibility: 'string',
  notification_count: 'int',
  light_settings: { color: COLOR, light_on_duration: 'duration', light_off_duration: 'duration' },
  image: 'string',
  bypass_proxy_notification: 'bool',
  proxy: 'string',
};

export const MESSAGE: Schema = {
  name: 'string',
  data: 'map',
  notification: { title: 'string', body: 'string', image: 'string' },
  android: {
    collapse_key: 'string',
    priority: 'string',
    ttl: 'duration',
    restricted_package_name: 'string',
    data: 'map',
    notification: ANDROID_NOTIFICATION,
    fcm_options: FCM_OPTIONS,
    direct_boot_ok: 'bool',
    bandwidth_constrained_ok: 'bool',
    restricted_satellite_ok: 'bool',
  },
  webpush: { headers: 'map', data: 'map', notification: 'struct', fcm_options: { link: 'string', analytics_label: 'string' } },
  apns: { headers: 'map', payload: 'struct', fcm_options: { analytics_label: 'string', image: 'string' }, live_activity_token: 'string' },
  fcm_options: FCM_OPTIONS,
  token: 'string',
  topic: 'string',
  condition: 'string',
};

export const SEND_REQUEST: Schema = { validate_only: 'bool', message: MESSAGE };

/** One thing wrong with a request body, in Google's words, and the field it names (absent at the top level). */
export interface FieldViolation {
  field?: string;
  description: string;
}

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const DURATION = /^-?\d+(\.\d{1,9})?s$/;

/** Everything in `value` that `schema` does not allow, in document order. */
export function violations(value: Record<string, unknown>, schema: Schema = SEND_REQUEST, path = ''): FieldViolation[] {
  const out: FieldViolation[] = [];
  for (const [name, v] of Object.entries(value)) {
    const field = schema[name] ?? schema[snake(name)];
    const here = path ? `${path}.${name}` : name;
    if (field === undefined) {
      const description = `Invalid JSON payload received. Unknown name "${name}"${path ? ` at '${path}'` : ''}: Cannot find field.`;
      out.push(path ? { field: path, description } : { description });
      continue;
    }
    if (v === null) continue;
    out.push(...checkValue(v, field, here));
  }
  return out;
}

function invalid(path: string, type: string, value: unknown): FieldViolation {
  return { field: path, description: `Invalid value at '${path}' (${type}), ${typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value)}` };
}

function checkValue(v: unknown, field: Field, path: string): FieldViolation[] {
  switch (field) {
    case 'string':
      return typeof v === 'string' ? [] : [invalid(path, 'TYPE_STRING', v)];
    case 'bool':
      return typeof v === 'boolean' ? [] : [invalid(path, 'TYPE_BOOL', v)];
    case 'int':
      return Number.isInteger(typeof v === 'string' ? Number(v) : v) ? [] : [invalid(path, 'TYPE_INT32', v)];
    case 'duration':
      return typeof v === 'string' && DURATION.test(v) ? [] : [invalid(path, 'type.googleapis.com/google.protobuf.Duration', v)];
    case 'strings':
    case 'ints':
      if (!Array.isArray(v)) return [invalid(path, field === 'strings' ? 'TYPE_STRING' : 'TYPE_INT32', v)];
      return v.flatMap((item, i) => checkValue(item, field === 'strings' ? 'string' : 'int', `${path}[${i}]`));
    case 'map':
      // Google reports a map entry by its position: 'message.data[0].value'.
      if (typeof v !== 'object' || Array.isArray(v)) return [invalid(path, 'TYPE_MESSAGE', v)];
      return Object.values(v as Record<string, unknown>).flatMap((item, i) => (typeof item === 'string' ? [] : [invalid(`${path}[${i}].value`, 'TYPE_STRING', item)]));
    case 'struct':
      return typeof v === 'object' && !Array.isArray(v) ? [] : [invalid(path, 'type.googleapis.com/google.protobuf.Struct', v)];
    default:
      if (typeof v !== 'object' || Array.isArray(v)) return [invalid(path, 'TYPE_MESSAGE', v)];
      return violations(v as Record<string, unknown>, field, path);
  }
}
