// Every screen of the app. A screen is a component in this folder and one entry here: the
// `#/<id>` address (with an optional `/<param>`), the heading and the window title follow;
// `nav` screens are listed in the navigation, in this order.
import type { FunctionComponent } from "preact";
import { About } from "./about";
import { Device, deviceHeading } from "./device";
import { Nearby } from "./nearby";
import { Sync } from "./sync";

export type ScreenProps = {
  /** What follows the id in the address: `#/device/177` gives "177". */
  param?: string;
};

export type Screen = {
  /** The address fragment, `#/<id>`. */
  id: string;
  /** The navigation label, the screen's heading and the window title. */
  title: string;
  /** A heading that depends on the address, instead of the title. */
  heading?: (param: string | undefined) => string;
  /** Listed in the navigation; otherwise reached from another screen. */
  nav: boolean;
  /** Shown before anyone signs in. */
  signedOut?: boolean;
  component: FunctionComponent<ScreenProps>;
};

export const screens: Screen[] = [
  { id: "nearby", title: "Nearby PODs", nav: true, component: Nearby },
  { id: "device", title: "POD", heading: deviceHeading, nav: false, component: Device },
  { id: "sync", title: "Sync", nav: true, component: Sync },
  { id: "about", title: "About", nav: true, signedOut: true, component: About },
];
