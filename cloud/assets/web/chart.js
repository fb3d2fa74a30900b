// The device page's charts; see device.html.
