/** healbot's Slack adapter: the only place that imports @slack/bolt. */
export {
  createSlackAdapter,
  SLASH_COMMAND,
  SLACK_EVENTS_PATH,
  type SlackAdapter,
  type SlackAdapterOptions,
  type AdapterLogger,
} from './adapter.js';
export { renderMessage, renderDecided, SLACK_LIMITS, APPROVE_ACTION_ID, DENY_ACTION_ID } from './blocks.js';
export { SlackSurface } from './surface.js';
