"""Names every program of a language may use without defining them: builtins, the standard
library's modules, and its common types, functions and methods. A plan naming one of them is
not naming something missing from the tree.

Python's set is read from the running interpreter (`sys.stdlib_module_names`, `builtins`, and
the public names of common standard modules and their classes, harvested once, lazily); the
other languages' are curated lists of what plans commonly name.
"""

from __future__ import annotations

import builtins
import importlib
import keyword
import sys
from collections.abc import Iterable
from functools import cache

_PY_HARVEST = """abc argparse array asyncio base64 bisect collections collections.abc concurrent.futures
configparser contextlib contextvars copy csv dataclasses datetime decimal enum errno fnmatch
fractions functools gc glob gzip hashlib heapq hmac http http.client http.server importlib
inspect io ipaddress itertools json logging logging.handlers math mimetypes multiprocessing
operator os os.path pathlib pickle platform pprint queue random re secrets selectors shlex shutil
signal socket sqlite3 ssl statistics string struct subprocess sys tarfile tempfile textwrap
threading time timeit traceback types typing unittest unittest.mock urllib.parse urllib.request
uuid warnings weakref zipfile zlib""".split()

_RUST = """std core alloc Vec String str Option Some None Result Ok Err Box Rc Arc Weak RefCell Cell
Mutex MutexGuard RwLock Condvar Once OnceCell OnceLock LazyLock Barrier HashMap HashSet BTreeMap
BTreeSet VecDeque BinaryHeap LinkedList AtomicBool AtomicU8 AtomicU16 AtomicU32 AtomicU64
AtomicUsize AtomicI8 AtomicI16 AtomicI32 AtomicI64 AtomicIsize AtomicPtr Ordering Duration
Instant SystemTime UNIX_EPOCH Path PathBuf OsStr OsString File OpenOptions Metadata DirEntry
BufReader BufWriter Read Write BufRead Seek Cursor Stdin Stdout Stderr stdin stdout stderr
Iterator IntoIterator DoubleEndedIterator ExactSizeIterator Extend FromIterator From Into TryFrom
TryInto AsRef AsMut Borrow BorrowMut ToOwned ToString Display Debug Formatter Clone Copy Default
PartialEq Eq PartialOrd Ord Hash Hasher Send Sync Sized Unpin Drop Fn FnMut FnOnce Deref
DerefMut Index IndexMut Add Sub Mul Div Neg Not Range RangeInclusive Cow PhantomData NonNull
NonZeroU32 NonZeroU64 NonZeroUsize Pin Future Poll Context Waker Error ErrorKind Chars Bytes
Lines Split Peekable Rev Zip Map Filter Thread JoinHandle Builder Sender Receiver SyncSender
TryRecvError RecvError SendError channel sync_channel spawn sleep thread mpsc sync atomic fs io
net env process fmt mem ptr cmp iter ops collections time path ffi hash num slice char vec
println print eprintln eprint format write writeln panic assert assert_eq assert_ne debug_assert
unreachable unimplemented todo matches dbg include_str concat stringify cfg derive new
with_capacity unwrap unwrap_or unwrap_or_else unwrap_or_default expect ok err map map_err
and_then or_else is_some is_none is_ok is_err as_ref as_mut take replace clone to_string
to_owned into iter iter_mut into_iter collect len is_empty push pop insert remove get get_mut
contains contains_key entry or_insert or_insert_with extend drain retain sort sort_by
sort_unstable dedup join split trim lines chars bytes as_str as_bytes parse lock read write
load store fetch_add fetch_sub compare_exchange swap as_secs as_millis elapsed now from_secs
from_millis open create read_to_string read_line flush send recv try_recv u8 u16 u32 u64 u128
usize i8 i16 i32 i64 i128 isize f32 f64 bool Self self crate super anyhow thiserror serde tokio
Serialize Deserialize FusedIterator Sum Product Step TrustedLen Any TypeId Termination
UnwindSafe RefUnwindSafe Unsize CoerceUnsized Error Backtrace BacktraceStatus Location
PanicInfo Infallible Wrapping Saturating Reverse Entry Keys Values Iter IterMut IntoIter Drain
Chain Cycle Enumerate Flatten FlatMap Fuse Inspect Skip SkipWhile StepBy Take TakeWhile Windows
Chunks ChunksExact from_be_bytes from_le_bytes from_ne_bytes to_be_bytes to_le_bytes
to_ne_bytes from_be from_le to_be to_le swap_bytes checked_add checked_sub checked_mul
checked_div wrapping_add wrapping_sub wrapping_mul saturating_add saturating_sub
saturating_mul overflowing_add pow abs min max clamp count_ones leading_zeros trailing_zeros
is_power_of_two next_power_of_two from_str_radix MAX MIN BITS copy_from_slice clone_from_slice
split_at split_at_mut split_off truncate resize reserve capacity shrink_to_fit as_ptr
as_mut_ptr as_slice as_mut_slice to_vec into_boxed_slice into_inner get_ref get_mut
downcast downcast_ref downcast_mut is source description cause provide next next_back
size_hint rev zip chain enumerate filter_map fold for_each any all find position skip
take step_by peekable flatten flat_map cloned copied sum product count last nth min_by_key
max_by_key partition unzip windows chunks first last_mut iter_mut binary_search starts_with
ends_with strip_prefix strip_suffix find rfind trim_start trim_end to_lowercase
to_uppercase from_utf8 from_utf8_lossy into_bytes into_string borrow borrow_mut upgrade
downgrade strong_count weak_count ptr_eq try_unwrap make_mut get_or_insert_with map_or
map_or_else ok_or ok_or_else filter flatten zip unwrap_unchecked expect_err unwrap_err
transpose copied inspect into_raw from_raw leak default partial_cmp cmp eq ne lt le gt ge
hash fmt drop deref deref_mut index index_mut poll wake wake_by_ref from try_from into
try_into as_any type_name size_of align_of transmute forget replace take swap null null_mut
Layout alloc dealloc realloc Global System GlobalAlloc Allocator""".split()

_GO = """append cap clear close complex copy delete imag len make max min new panic print println
real recover bool byte rune string error any comparable int int8 int16 int32 int64 uint uint8
uint16 uint32 uint64 uintptr float32 float64 complex64 complex128 nil true false iota
fmt context sync atomic time net http url io ioutil os errors strings bytes strconv sort slices
maps bufio json encoding filepath path regexp log slog flag exec signal runtime math rand reflect
testing httptest unicode utf8 crypto sha256 hex base64 tls template embed heap list
Context Background TODO WithCancel WithTimeout WithDeadline WithValue CancelFunc Done Err Value
Mutex RWMutex WaitGroup Once Pool Map Cond Lock Unlock RLock RUnlock Add Wait Do Load Store
Int32 Int64 Uint32 Uint64 Bool AddInt64 LoadInt64 StoreInt64 CompareAndSwapInt64
Duration Time Now Since Until Sleep After Tick Ticker Timer NewTimer NewTicker AfterFunc Second
Millisecond Microsecond Nanosecond Minute Hour Unix Parse Format RFC3339
Client Server Request Response ResponseWriter Handler HandlerFunc ServeMux NewServeMux Get Post
Head NewRequest NewRequestWithContext ListenAndServe Handle HandleFunc Header StatusOK
Reader Writer ReadWriter Closer ReadCloser WriteCloser Copy ReadAll EOF Discard NopCloser
Read Write Close Open Create ReadFile WriteFile Remove RemoveAll Mkdir MkdirAll Getenv Setenv
Exit Args Stdin Stdout Stderr File FileInfo FileMode DirEntry ReadDir Stat Lstat IsNotExist
New Is As Unwrap Join Errorf Sprintf Printf Println Print Sprint Sprintln Fprintf Fprintln
Fprint Sscanf Stringer String Error
Contains HasPrefix HasSuffix Split SplitN Fields TrimSpace Trim TrimPrefix TrimSuffix Replace
ReplaceAll ToLower ToUpper Index Repeat EqualFold Builder NewReader NewWriter NewScanner Scanner
Itoa Atoi ParseInt ParseFloat ParseBool FormatInt Quote Slice Sort Strings Ints Search
Marshal Unmarshal MarshalIndent NewEncoder NewDecoder Encode Decode Encoder Decoder RawMessage
MustCompile Compile MatchString FindString FindAllString Regexp Logger Fatal Fatalf Panicf
Printf Command CommandContext Run Output Start Notify Interrupt SIGTERM SIGINT GOOS GOARCH
Intn Float64 Shuffle Seed DeepEqual TypeOf ValueOf Kind T B M Errorf Fatalf Helper Cleanup Run
Parallel Skip Log Logf Equal Compare Fields FieldsFunc Title ToTitle Map Count LastIndex
IndexByte IndexRune ContainsAny ContainsRune TrimLeft TrimRight TrimFunc Cut CutPrefix
CutSuffix NewReplacer Replacer Buffer NewBuffer NewBufferString WriteString WriteByte
WriteRune Len Cap Reset Grow Bytes Truncate Next Peek ReadString ReadLine ReadBytes Scan Text
Err Split ScanLines ScanWords Flush Writer Reader LimitReader MultiReader MultiWriter TeeReader
Pipe SectionReader ReadFull WriteString Seeker ReaderAt WriterAt ByteReader RuneReader
Stringer GoStringer Formatter State Sscan Sscanln Fscan Append Appendf Sprint Errorf
Marshaler Unmarshaler Valid Indent Compact Number Delim Token HTMLEscape
URL Values ParseQuery QueryEscape QueryUnescape PathEscape PathUnescape Query RawQuery
Cookie SetCookie Redirect NotFound Error StatusText StatusNotFound StatusBadRequest
StatusInternalServerError StatusMethodNotAllowed MethodGet MethodPost MethodPut MethodDelete
Transport RoundTripper DefaultClient DefaultServeMux FileServer Dir StripPrefix TimeoutHandler
MaxBytesReader ServeHTTP Context WithContext Clone Hijacker Flusher Pusher CloseNotifier
Listener Conn Dial DialTimeout Listen Addr TCPAddr ParseIP IP SplitHostPort JoinHostPort
Abs Base Clean Dir Ext Glob IsAbs Join Match Rel SplitList Walk WalkDir WalkFunc Separator
Getwd Chdir Hostname Getpid Environ LookupEnv ExpandEnv Executable TempDir UserHomeDir
CreateTemp MkdirTemp Chmod Chown Rename Symlink Readlink Truncate ErrNotExist ErrExist
Signal Kill Process StartProcess FindProcess Pid Sort Stable Slice SliceStable Sort Less Swap
Interface Reverse IsSorted SearchInts Contains Index Insert Delete Compact Equal Max Min
Clip Grow BinarySearch SortFunc IndexFunc ContainsFunc Keys Values Clone Copy DeleteFunc
Pointer Value Type Kind Elem Field Method NumField NumMethod Interface IsNil IsValid IsZero
Set SetInt SetString Call Indirect New MakeSlice MakeMap Zero Uint Int Float Complex
Printf Print Println Panic Panicln Fatalln SetFlags SetOutput SetPrefix Default
NewTextHandler NewJSONHandler Info Warn Debug Attr Group Level LevelInfo LevelDebug
Once OnceFunc OnceValue Locker NewCond Signal Broadcast Swap CompareAndSwap Value
Int32 Int64 Uint32 Uint64 Uintptr AddInt32 AddUint64 LoadPointer StorePointer
Unix UnixNano UnixMilli Date Local UTC LoadLocation Truncate Round Sub Add AddDate Before
After Equal IsZero Year Month Day Weekday Hours Minutes Seconds Milliseconds Stop Reset C
ParseDuration Since ErrUnexpectedEOF ErrShortWrite ErrClosedPipe Usage CommandLine FlagSet
String StringVar Int IntVar Bool BoolVar Duration DurationVar Parse Parsed Arg NArg NFlag
Lookup VisitAll Visit Value Getter Func TextVar""".split()

_JS = """Document Element HTMLElement HTMLInputElement Window Node NodeList XMLHttpRequest
AbortError DOMParser MutationObserver IntersectionObserver ResizeObserver CSSStyleDeclaration
Storage localStorage sessionStorage location history Location History KeyboardEvent
MouseEvent FocusEvent InputEvent PointerEvent Navigator Screen Image Audio Notification
ServiceWorker IndexedDB IDBDatabase Crypto SubtleCrypto Performance console cookie
Array ArrayBuffer AbortController AbortSignal AggregateError Atomics BigInt BigInt64Array
Blob Boolean Buffer DataView Date Error EvalError Event EventTarget EventEmitter FinalizationRegistry
Float32Array Float64Array FormData Function Headers Infinity Int8Array Int16Array Int32Array Intl
JSON Map Math NaN Number Object Promise Proxy RangeError ReferenceError Reflect RegExp Request
Response Set SharedArrayBuffer String Symbol SyntaxError TextDecoder TextEncoder TypeError
URIError URL URLSearchParams Uint8Array Uint8ClampedArray Uint16Array Uint32Array WeakMap
WeakRef WeakSet WebAssembly Worker ReadableStream WritableStream TransformStream
console process require module exports globalThis window document navigator fetch
setTimeout clearTimeout setInterval clearInterval setImmediate clearImmediate queueMicrotask
structuredClone encodeURIComponent decodeURIComponent encodeURI decodeURI parseInt parseFloat
isNaN isFinite undefined null this super arguments async await
Partial Required Readonly Record Pick Omit Exclude Extract NonNullable ReturnType Parameters
InstanceType Awaited PromiseLike Iterable Iterator AsyncIterable AsyncIterator Generator
ReadonlyArray unknown never any void string number boolean object symbol bigint keyof typeof
then catch finally resolve reject all allSettled race withResolvers push pop shift unshift
slice splice concat join reverse sort indexOf lastIndexOf includes find findIndex findLast
filter map reduce reduceRight forEach some every flat flatMap fill keys values entries from of
isArray length get set has delete clear size add toString toJSON valueOf hasOwnProperty
assign create freeze defineProperty getPrototypeOf setPrototypeOf fromEntries parse stringify
log warn error info debug trace emit on off once addListener removeListener removeAllListeners
listeners listenerCount addEventListener removeEventListener dispatchEvent abort signal
bind call apply constructor prototype now floor ceil round min max abs random trim split
replace replaceAll startsWith endsWith padStart padEnd toLowerCase toUpperCase charAt
charCodeAt substring match matchAll test exec json text arrayBuffer nextTick env argv exit
cwd readFile writeFile readFileSync writeFileSync existsSync path fs http https os util events
stream crypto child_process spawn exec Iterator Generator AsyncGenerator Intl DOMException
ErrorEvent CloseEvent MessageEvent CustomEvent EventInit Headers Blob File FileReader
WebSocket Worker MessageChannel MessagePort BroadcastChannel performance queueMicrotask
atob btoa structuredClone Buffer alloc allocUnsafe byteLength isBuffer copy equals
readUInt8 readUInt16BE readUInt32LE writeUInt8 subarray toString slice compare concat
Duplex Readable Writable Transform PassThrough pipeline finished write end destroy pipe
unpipe pause resume read setEncoding cork uncork destroyed writable readable writableEnded
createServer listen close address connect request get setHeader getHeader removeHeader
writeHead statusCode statusMessage headers url method socket setTimeout setNoDelay
setKeepAlive remoteAddress remotePort localAddress bytesWritten bytesRead once prependListener
createHash createHmac randomBytes randomUUID timingSafeEqual update digest inherits
promisify deprecate inspect format isDeepStrictEqual types TextDecoder describe it test
expect beforeEach afterEach beforeAll afterAll jest mock spyOn assert strictEqual deepEqual
deepStrictEqual throws rejects ok equal notEqual fail useFakeTimers advanceTimersByTime
charCodeAt codePointAt fromCharCode localeCompare normalize repeat at trimStart trimEnd
keys getOwnPropertyNames defineProperties entries isFrozen seal is toFixed toPrecision
isInteger isSafeInteger MAX_SAFE_INTEGER EPSILON POSITIVE_INFINITY NEGATIVE_INFINITY
getTime toISOString getFullYear UTC parse now iterator asyncIterator hasInstance
toStringTag description for keyFor next return throw done value""".split()

_JAVA = """Object String StringBuilder Integer Long Double Float Short Byte Character Boolean Number
Math System Thread Runnable Callable Exception RuntimeException Error Throwable
IllegalArgumentException IllegalStateException NullPointerException IndexOutOfBoundsException
UnsupportedOperationException InterruptedException IOException UncheckedIOException
TimeoutException ExecutionException CancellationException Iterable Iterator Comparable
Comparator AutoCloseable Closeable Override Deprecated FunctionalInterface SuppressWarnings
List ArrayList LinkedList Map HashMap LinkedHashMap TreeMap ConcurrentHashMap ConcurrentMap Set
HashSet LinkedHashSet TreeSet Queue Deque ArrayDeque PriorityQueue BlockingQueue
LinkedBlockingQueue ArrayBlockingQueue Collection Collections Arrays Objects Optional
OptionalInt Stream IntStream Collectors Random UUID Locale Scanner Properties
CompletableFuture CompletionStage Future ExecutorService Executors ScheduledExecutorService
Executor ThreadPoolExecutor ForkJoinPool TimeUnit CountDownLatch Semaphore CyclicBarrier
AtomicInteger AtomicLong AtomicBoolean AtomicReference ReentrantLock ReadWriteLock
ReentrantReadWriteLock Lock Condition Duration Instant LocalDate LocalDateTime ZonedDateTime
Clock ChronoUnit Function BiFunction Supplier Consumer BiConsumer Predicate BiPredicate
UnaryOperator BinaryOperator Path Paths Files File InputStream OutputStream Reader Writer
BufferedReader BufferedWriter Charset StandardCharsets Pattern Matcher var void int long double
float short byte char boolean null this super new equals hashCode toString compareTo getClass
get put set add remove contains containsKey size isEmpty clear of ofNullable orElse orElseGet
orElseThrow ifPresent isPresent map flatMap filter collect stream forEach toList toMap
toSet joining groupingBy sleep currentThread interrupt start run join call submit execute
shutdown awaitTermination supplyAsync thenApply thenCompose thenAccept exceptionally
complete completedFuture incrementAndGet getAndIncrement compareAndSet acquire release
tryAcquire lock unlock tryLock ofMillis ofSeconds toMillis now currentTimeMillis nanoTime
println printf format valueOf parseInt length charAt substring split trim append close
Logger LoggerFactory Iterator ListIterator Enumeration Spliterator Stream Builder
Collector BiConsumer ToIntFunction IntFunction LongSupplier BooleanSupplier Runnable
Annotation Retention Target Documented Inherited ElementType RetentionPolicy Class Enum
Record Void Cloneable Serializable CharSequence Appendable Readable StringJoiner
StringBuffer Process ProcessBuilder Runtime ThreadLocal InheritableThreadLocal ClassLoader
StackTraceElement SecurityException ClassCastException ArithmeticException
NumberFormatException ConcurrentModificationException NoSuchElementException
ArrayIndexOutOfBoundsException CloneNotSupportedException ReflectiveOperationException
ClassNotFoundException DateTimeException Flow Publisher Subscriber Subscription
DelayQueue SynchronousQueue LinkedTransferQueue ConcurrentLinkedQueue
ConcurrentLinkedDeque CopyOnWriteArrayList CopyOnWriteArraySet ConcurrentSkipListMap
StampedLock LongAdder DoubleAdder Phaser Exchanger ThreadFactory RejectedExecutionHandler
ScheduledFuture RunnableFuture FutureTask ForkJoinTask RecursiveTask RecursiveAction
EnumMap EnumSet BitSet WeakHashMap IdentityHashMap Hashtable Vector Stack SortedMap
NavigableMap SortedSet NavigableSet AbstractMap AbstractList AbstractSet
LocalTime OffsetDateTime ZoneId ZoneOffset Period DateTimeFormatter TemporalUnit Year
YearMonth DayOfWeek Month schedule scheduleAtFixedRate scheduleWithFixedDelay invokeAll
invokeAny isDone isCancelled cancel getNow join thenRun thenCombine whenComplete handle
allOf anyOf orTimeout completeOnTimeout addAndGet getAndAdd decrementAndGet getAndSet
updateAndGet accumulateAndGet lazySet availablePermits countDown await signal signalAll
newFixedThreadPool newCachedThreadPool newSingleThreadExecutor newScheduledThreadPool
newVirtualThreadPerTaskExecutor toArray addAll removeAll retainAll containsAll iterator
hasNext next putIfAbsent computeIfAbsent computeIfPresent compute merge getOrDefault
entrySet keySet values replaceAll removeIf sort subList indexOf lastIndexOf asList
unmodifiableList emptyList singletonList copyOf requireNonNull isNull nonNull hash
ofEpochMilli plusMillis plusSeconds minus isBefore isAfter between toNanos toSeconds
getMessage getCause printStackTrace addSuppressed getSuppressed getStackTrace getName
getSimpleName isInstance cast getAnnotation ordinal name values valueOf""".split()

_C = """std vector string map unordered_map set unordered_set list deque array pair tuple optional
variant any shared_ptr unique_ptr weak_ptr make_shared make_unique move forward swap mutex
lock_guard unique_lock scoped_lock condition_variable thread atomic future promise async
chrono duration steady_clock system_clock milliseconds seconds function bind string_view
span cout cerr endl ostream istream stringstream ifstream ofstream size_t ssize_t uint8_t
uint16_t uint32_t uint64_t int8_t int16_t int32_t int64_t uintptr_t intptr_t ptrdiff_t bool
nullptr NULL FILE malloc calloc realloc free memcpy memmove memset memcmp strlen strcmp
strncmp strcpy strncpy strdup strchr strrchr strstr printf fprintf sprintf snprintf vsnprintf
puts fputs fopen fclose fread fwrite fgets fflush fseek ftell perror errno exit abort atexit
assert qsort bsearch atoi atol strtol strtoul strtod getenv time clock sleep usleep open
close read write pthread_create pthread_join pthread_mutex_t pthread_mutex_lock
pthread_mutex_unlock push_back emplace_back pop_back begin end size empty clear insert erase
find count reserve resize data front back at lock unlock load store fetch_add exchange
compare_exchange_strong get reset release sort min max""".split()

CURATED: dict[str, frozenset[str]] = {
    "rust": frozenset(_RUST),
    "go": frozenset(_GO),
    "javascript": frozenset(_JS),
    "typescript": frozenset(_JS),
    "java": frozenset(_JAVA),
    "c": frozenset(_C),
    "cpp": frozenset(_C),
}
LANGUAGES = ("python", *CURATED)


@cache
def python_names() -> frozenset[str]:
    """Builtins, keywords, standard module names (and their dotted parts), and the public
    names of common standard modules and of the classes they define."""
    names: set[str] = set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist)
    for mod in sys.stdlib_module_names:
        names.update(mod.split("."))
    for t in (str, bytes, list, dict, set, frozenset, tuple, int, float, object, BaseException):
        names.update(n for n in dir(t) if not n.startswith("_"))
    for modname in _PY_HARVEST:
        names.update(modname.split("."))
        try:
            module = importlib.import_module(modname)
        except Exception:
            continue
        for n in getattr(module, "__all__", None) or dir(module):
            if n.startswith("_"):
                continue
            names.add(n)
            obj = getattr(module, n, None)
            if isinstance(obj, type):
                names.update(m for m in vars(obj) if not m.startswith("_"))
    names.update(("self", "cls", "__init__", "__call__", "__enter__", "__exit__", "__aenter__",
                  "__aexit__", "__iter__", "__next__", "__len__", "__getitem__", "__repr__"))  # fmt: skip
    return frozenset(names)


def names_for(language: str) -> frozenset[str]:
    if language == "python":
        return python_names()
    return CURATED.get(language, frozenset())


# the web platform: every web framework's docs name it, whatever the tree's language
_WEB = frozenset(
    """Document Element HTMLElement Window Node XMLHttpRequest AbortError DOMException fetch
    localStorage sessionStorage cookie navigator ETag WebSocket EventSource ServiceWorker
    FormData Blob URLSearchParams""".split()
)


def known_names(languages: Iterable[str]) -> frozenset[str]:
    """The union of what the given languages know without a definition (and the web
    platform's names, which documentation of any web code names)."""
    out: set[str] = set(_WEB)
    for lang in languages:
        out |= names_for(lang)
    return frozenset(out)


# the standard library's modules (what `const fs = require('fs')` or `import os` aliases)
STANDARD_MODULES = frozenset(sys.stdlib_module_names) | frozenset(
    """fs http https http2 path os util events stream crypto child_process net dgram dns tls
    url zlib assert buffer readline cluster querystring timers worker_threads perf_hooks
    process v8 vm""".split()
)
