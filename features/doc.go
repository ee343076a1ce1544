// Package features turns a customer profile and a request context into the sparse,
// fixed-dimension feature vector that the per-action Bayesian logistic-regression
// bandits in package bandit are trained on.
//
// The package is pure: it parses bytes and does arithmetic, with no clock, logging,
// I/O or globals. The engine owns one Encoder per schema and calls Encode on every
// decision and Observe whenever it wants the online standardisation statistics to
// learn from a profile; EncodeObserve does both in one walk of the input.
//
// # Two encoders
//
// NewEncoder compiles a Schema (ParseSchema reads it from YAML or JSON): every field
// is declared with a source, a type and transforms, so every dimension has a stable
// meaning and a readable name (FeatureName). NewAutoEncoder needs no schema: it hashes
// whatever the profile and context contain into 2^bits dimensions, like Vowpal Wabbit
// or Azure Personalizer. Both put the intercept at index 0 with value 1.
//
// # Layout of a schema encoder
//
// Dimensions are laid out deterministically from the schema: the intercept at 0, then
// one block per field in schema order, then one block per interaction in schema
// order. Entries whose value is exactly 0 are omitted, so a false boolean and a
// numeric 0 leave no entry. Blocks, with offsets relative to the block start:
//
//	numeric              [value, missing]
//	numeric with buckets [bucket 0 .. bucket len(Buckets), missing]
//	categorical (vocab)  [vocabulary[0] .. vocabulary[V-1], other, missing]
//	categorical (hashed) [bucket 0 .. bucket HashBuckets-1, missing]
//	boolean              [true, missing]
//	interaction (a, b)   exact: size(a)*size(b) dims, entry i*size(b)+j
//	                     hashed: InteractionBuckets dims
//
// The missing slot is 1 when the field is absent from its source or is null.
//
// # Numeric pipeline
//
// A numeric value goes through, in this order:
//
//  1. clip to [Clip[0], Clip[1]];
//  2. log1p: x = ln(1+x); a value <= -1 after clipping is an error (ErrValue);
//  3. either bucketise: one-hot over len(Buckets)+1 slots, slot i holds values in
//     [Buckets[i-1], Buckets[i]) with the outer slots open-ended, and the slot
//     replaces the value; or standardise: z = (x-mean)/sd with the running mean and
//     sample standard deviation of the values passed to Observe (after steps 1-2),
//     computed with Welford's online algorithm (B. P. Welford, "Note on a method for
//     calculating corrected sums of squares and products", Technometrics 4(3), 1962;
//     Knuth, TAOCP vol. 2, 3rd ed., section 4.2.2, p. 232), clipped to [-MaxZ, MaxZ].
//     Until a field has been observed MinObservations times, or while its standard
//     deviation is 0, it encodes as 0, its expected z-score: a field the encoder
//     knows nothing about yet carries no information, rather than a raw magnitude
//     that would swamp a fresh model. The statistics are saved and loaded with
//     MarshalBinary and UnmarshalBinary, so a restart keeps them.
//
// # Categorical values
//
// With a Vocabulary the value is one-hot encoded, with one extra "other" slot for
// values outside it. Without one, it is hashed into HashBuckets slots (default
// DefaultHashBuckets) with the hashing trick (Weinberger, Dasgupta, Langford, Smola,
// Attenberg, "Feature Hashing for Large Scale Multitask Learning", ICML 2009): the
// slot is xxhash64(name, 0x00, value) mod HashBuckets, using XXH64 from
// github.com/cespare/xxhash/v2. Numbers are accepted as categorical values and are
// spelt as strconv.FormatFloat(x, 'g', -1, 64) does ("5", "2.5", "1e+21").
//
// # Interactions
//
// An interaction (a, b) is the outer product of the active entries of a's and b's
// blocks, missing slots included: entry (i, j) has value value_a(i) * value_b(j). When
// size(a)*size(b) <= MaxExactInteraction the block is exact, one dimension per pair;
// otherwise the pair (i, j) is hashed (xxhash64 of the two little-endian uint32
// offsets) into InteractionBuckets dimensions and colliding products are summed.
//
// # Auto encoder
//
// NewAutoEncoder(bits) maps every value to one of the 2^bits - 1 dimensions after
// the intercept by xxhash64 of its name: "profile." or "context." followed by the
// key, with nested objects flattened with dots up to MaxAutoDepth levels. Numbers
// are standardised online per name (same rule as above) and hashed by name; strings
// are hashed as name=value with value 1; true booleans are hashed by name with value
// 1 (false leaves no entry); arrays of strings are multi-hot; null counts as missing;
// anything else that JSON can hold (arrays of numbers, objects nested too deep) is
// skipped and counted in Report.Unknown. Colliding features share a dimension and
// their values are summed: with k distinct features in D = 2^bits - 1 buckets, a
// given feature shares its bucket with at least one other with probability
// 1-(1-1/D)^(k-1), about (k-1)/D; for k = 100 features and bits = 16 that is 0.15%,
// and the expected number of colliding pairs is k(k-1)/(2D), 0.08.
//
// # Accepted values
//
// Numbers may be float64, float32, any int or uint type, or json.Number; NaN and
// ±Inf are errors. Categorical values are strings or numbers. Booleans are bool,
// the strings true/false/yes/no in any case (as CSV exports write them), or the
// numbers 0 and 1. The auto encoder also takes map[string]any, []any and []string.
//
// # Errors
//
// A value of the wrong type is an error wrapping ErrType, a value that cannot be
// encoded (NaN, ±Inf, log1p of a value <= -1, overflow) one wrapping ErrValue; both
// are *FieldError values that name the field, e.g. `field "tenure": want number,
// got string`. Schema problems wrap ErrSchema and name the field and, when parsed,
// the line. Keys that the schema does not use are not errors: Encode counts them
// in Report.Unknown without allocating, and Inspect lists them.
//
// # Concurrency
//
// Every method may be called from many goroutines at once. Encode, FeatureName and
// MarshalBinary take a read lock; Observe, EncodeObserve and UnmarshalBinary take a
// write lock, EncodeObserve of a schema encoder only to fold in the values it has
// encoded.
package features
