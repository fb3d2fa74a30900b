// Every screen of the app, in navigation order. A new screen is a component in this folder
// and one entry here: the navigation, the `#/<id>` address and the window title follow.
import type { FunctionComponent } from "preact";
import { About } from "./about";

export type Screen = {
  /** The address fragment, `#/<id>`. */
  id: string;
  /** The navigation label, the screen's heading and the window title. */
  title: string;
  component: FunctionComponent;
};

export const screens: Screen[] = [{ id: "about", title: "About", component: About }];
