//! Unloading stops the threads of filters OBS has not destroyed yet (issue 32). Its own test binary: stopping
//! every registered thread must not reach the threads of other tests running in the same process.

use obs_virtual_background::image_loader::ImageLoader;
use obs_virtual_background::threads;
use obs_virtual_background::worker::Worker;

#[test]
fn stop_all_joins_every_live_thread_and_their_owners_can_still_be_dropped() {
    let before = threads::running();
    let worker = Worker::start("leftover", |_| {});
    let images = ImageLoader::start("leftover", |_| {});
    assert_eq!(threads::running(), before + 2);
    // What obs_module_unload does while OBS still holds these filters.
    assert_eq!(threads::stop_all(), 2, "both threads were still registered");
    assert_eq!(threads::running(), 0, "every thread has returned");
    // OBS destroys the leftover filters afterwards: dropping them must neither hang nor panic.
    drop(worker);
    drop(images);
    assert_eq!(threads::stop_all(), 0, "nothing left to stop");
}
