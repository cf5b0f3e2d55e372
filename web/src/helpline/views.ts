// The helpline pages' views, in one module the page registry loads when a helpline page is first
// opened: the rest of the web UI does not carry them.
export { ClientView } from './client-view.js';
export { StaffView } from './staff-view.js';
