//! A well-formed component of another world: it lacks `wagate:plugin/hooks`.

wit_bindgen::generate!({
    inline: "package test:nothing@0.1.0; world nothing { export ping: func() -> u32; }",
});

struct Nothing;

impl Guest for Nothing {
    fn ping() -> u32 {
        42
    }
}

export!(Nothing);
