// A release build on Windows opens no console next to the window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    iotile_desktop::run();
}
