// The calendar pages' views, in one module that the page registry loads when a calendar page is first
// opened: the rest of the web UI does not carry them.
export { ChooserView } from './chooser.js';
export { PersonView } from './person.js';
export { PlannerView } from './planner.js';
export { ResourceView } from './resource.js';
