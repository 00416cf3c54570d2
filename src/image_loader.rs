//! Decodes the background picture on its own thread, once per path change, so neither the UI thread nor the
//! graphics thread ever waits for a large file. Rapid path changes collapse to the newest one.

use crate::background_image::{self, DecodedImage};
use crate::error::Error;
use crate::latest_slot::{LatestSlot, Taken};
use parking_lot::Mutex;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The outcome of loading one path.
pub struct LoadedImage {
    pub path: String,
    pub result: Result<DecodedImage, Error>,
}

type ErrorListener = Box<dyn Fn(Option<&Error>) + Send + Sync>;

struct Shared {
    /// The filter's name, for the log.
    name: String,
    requests: LatestSlot<String>,
    /// The newest finished load, until the graphics thread takes it.
    loaded: Mutex<Option<LoadedImage>>,
    /// The path last requested and whether it loaded, to skip repeats and to retry failures.
    last: Mutex<Option<(String, bool)>>,
    error: Mutex<Option<Error>>,
    on_error_change: ErrorListener,
}

pub struct ImageLoader {
    shared: Arc<Shared>,
    thread: Option<crate::threads::PluginThread>,
}

impl ImageLoader {
    /// `on_error_change` runs on the loader thread when the error appears, changes or clears.
    pub fn start(name: &str, on_error_change: impl Fn(Option<&Error>) + Send + Sync + 'static) -> ImageLoader {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            requests: LatestSlot::default(),
            loaded: Mutex::new(None),
            last: Mutex::new(None),
            error: Mutex::new(None),
            on_error_change: Box::new(on_error_change),
        });
        let thread = {
            let (for_stop, shared) = (shared.clone(), shared.clone());
            crate::threads::spawn("vbg-image", move || for_stop.requests.close(), move || run(&shared))
                .map_err(|e| log::error!("cannot start the image loading thread: {e}"))
                .ok()
        };
        ImageLoader { shared, thread }
    }

    /// Asks for `path`. The same path again is ignored unless its last load failed.
    pub fn request(&self, path: &str) {
        {
            let mut last = self.shared.last.lock();
            if matches!(&*last, Some((p, true)) if p == path) {
                return;
            }
            *last = Some((path.to_string(), false));
        }
        self.shared.requests.put(path.to_string());
    }

    /// Takes the newest finished load, without waiting if the loader holds the lock.
    pub fn take_loaded(&self) -> Option<LoadedImage> {
        self.shared.loaded.try_lock().and_then(|mut l| l.take())
    }

    /// Why the newest requested picture is unusable, if it is.
    pub fn error(&self) -> Option<Error> {
        self.shared.error.lock().clone()
    }

    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            if !t.stop() {
                log::error!("[{}] the image loading thread ended with a panic", self.shared.name);
            }
        }
    }
}

impl Drop for ImageLoader {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared) {
    loop {
        let path = match shared.requests.wait(Duration::from_secs(3600)) {
            Taken::Closed => return,
            Taken::Value(path) => path,
            Taken::Woken | Taken::Empty => continue,
        };
        let result = std::panic::catch_unwind(|| background_image::load(Path::new(&path)))
            .unwrap_or_else(|_| Err(Error::image(format!("cannot decode background image {path}"))));
        // The decoder's scratch, and the previous picture once the graphics thread replaced it, are freed.
        crate::platform::return_freed_memory();
        let error = result.as_ref().err().cloned();
        {
            // A newer request may have arrived while decoding; only the newest path's outcome counts.
            let mut last = shared.last.lock();
            match &mut *last {
                Some((p, ok)) if *p == path => *ok = error.is_none(),
                _ => continue,
            }
        }
        let changed = {
            let mut current = shared.error.lock();
            let changed = *current != error;
            *current = error.clone();
            changed
        };
        *shared.loaded.lock() = Some(LoadedImage { path, result });
        if changed {
            // Once per distinct problem: retrying the same broken file on every settings change stays quiet.
            if let Some(e) = &error {
                log::warn!("[{}] background image not shown: {e}", shared.name);
            }
            (shared.on_error_change)(error.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn wait_loaded(loader: &ImageLoader) -> LoadedImage {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(l) = loader.take_loaded() {
                return l;
            }
            assert!(Instant::now() < deadline, "nothing loaded");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn loads_reports_errors_and_recovers() {
        let dir = std::env::temp_dir().join(format!("vbg-loader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.png");
        image::save_buffer(&good, &[9u8; 4 * 4 * 4], 4, 4, image::ExtendedColorType::Rgba8).unwrap();
        let missing = dir.join("later.png");

        let mut loader = ImageLoader::start("test", |_| {});
        loader.request(missing.to_str().unwrap());
        let l = wait_loaded(&loader);
        assert!(l.result.is_err());
        assert!(loader.error().is_some());

        // The file appears; asking for the same path again retries it.
        std::fs::copy(&good, &missing).unwrap();
        loader.request(missing.to_str().unwrap());
        let l = wait_loaded(&loader);
        assert_eq!(l.result.unwrap().width, 4);
        assert!(loader.error().is_none());

        // Same path again after success: nothing to do.
        loader.request(missing.to_str().unwrap());
        std::thread::sleep(Duration::from_millis(50));
        assert!(loader.take_loaded().is_none());
        loader.stop();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rapid_changes_end_on_the_newest_path() {
        let dir = std::env::temp_dir().join(format!("vbg-rapid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut paths = Vec::new();
        for w in 1..=20u32 {
            let p = dir.join(format!("{w}.png"));
            image::save_buffer(&p, &vec![0u8; (w * 4) as usize], w, 1, image::ExtendedColorType::Rgba8).unwrap();
            paths.push(p);
        }
        let loader = ImageLoader::start("test", |_| {});
        for p in &paths {
            loader.request(p.to_str().unwrap());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last_width = 0;
        while last_width != 20 && Instant::now() < deadline {
            if let Some(l) = loader.take_loaded() {
                last_width = l.result.unwrap().width;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(last_width, 20);
        drop(loader);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
