// /healthcheck: the checks of james-server-memory-app 3.8.1, all healthy, in the order /healthcheck/checks lists
// them (/healthcheck itself lists them as they finish, in no fixed order).

import { routeTable, type Route, type RouteHandler } from '../../../emulator/router.ts';
import { halt, json } from '../answers.ts';

const CHECKS = ['Guice application lifecycle', 'EmptyErrorMailRepository', 'MailReceptionCheck',
  'EventDeadLettersHealthCheck', 'MessageFastViewProjection'];

const component = (name: string) => ({ componentName: name, escapedComponentName: encodeURIComponent(name) });
const result = (name: string) => ({ ...component(name), status: 'healthy', cause: null });

export function healthRoutes(): Route<RouteHandler>[] {
  return routeTable<RouteHandler>([
    ['GET', '/healthcheck', () => json({ status: 'healthy', checks: CHECKS.map(result) })],
    ['GET', '/healthcheck/checks', () => json(CHECKS.map(component))],
    ['GET', '/healthcheck/checks/:component', (call) => {
      const name = call.param('component');
      if (!CHECKS.includes(name)) halt(404, 'notFound', `Component with name ${name} cannot be found`);
      return json(result(name));
    }],
  ]);
}
